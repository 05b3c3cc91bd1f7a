"""A button that does nothing useful in a state is off in that state, and says why."""

from PySide6.QtWidgets import QAbstractButton


def enable(button: QAbstractButton, on: bool, what: str, why_not: str) -> None:
    """Enable `button` with tooltip `what`, or disable it with tooltip `why_not`."""
    button.setEnabled(on)
    button.setToolTip(what if on else why_not)
