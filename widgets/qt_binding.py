"""Refuse a Qt binding that corrupts Python's memory before it can crash a show.

PySide6 6.12.0's `SignalInstance.emit()` returns `True` without owning a reference to it, so
every emit lowers `True`'s reference count by one. The studio emits about 130 signals a
second while live (meters, packets handed to the event loop), and Python aborts with
"bool_dealloc" once the count reaches zero: about 90 seconds into a show. pyproject.toml
excludes that release; this check catches any other build with the same defect at startup,
where it costs a few milliseconds and loses nothing.
"""

import sys

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QObject, Signal

PROBE_EMITS = 2_000


class _Probe(QObject):
    fired = Signal(object)


def emit_refcount_drift(emits: int = PROBE_EMITS) -> int:
    """How many references to True and False `emits` signal emissions lost (0 when sound)."""
    probe = _Probe()
    probe.fired.connect(lambda _value: None)
    before = sys.getrefcount(True) + sys.getrefcount(False)
    for i in range(emits):
        probe.fired.emit(i)
    after = sys.getrefcount(True) + sys.getrefcount(False)
    probe.deleteLater()
    return max(0, before - after)


def broken_binding_message() -> str | None:
    """A sentence for the person at the screen when this PySide6 is unsafe, else None."""
    drift = emit_refcount_drift()
    if drift < PROBE_EMITS // 2:
        return None
    return (
        f"This PySide6 ({PYSIDE_VERSION}) loses a reference to True at every signal, which "
        "crashes the studio within minutes of going live. Install another release, e.g. "
        "`pip install 'PySide6-Essentials!=6.12.0'` (`make run` installs a safe one)."
    )
