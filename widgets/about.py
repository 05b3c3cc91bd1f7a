"""About box: what this is and the versions of everything it runs on."""

import platform
from importlib.metadata import PackageNotFoundError, version

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from studio import __version__

COMPONENTS = ("av", "aiortc", "web3", "fastapi", "vyper")


def component_versions() -> dict[str, str]:
    versions = {
        "HarmonieCORE Studio": __version__,
        "Python": platform.python_version(),
        "Qt": qVersion(),
        "PySide6": pyside_version,
    }
    for name in COMPONENTS:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def about_text() -> str:
    rows = "".join(
        f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in component_versions().items()
    )
    return (
        "<h3>HarmonieCORE Studio</h3>"
        "<p>Go live, publish your tracks and get tipped, from your own computer.</p>"
        f"<table>{rows}</table>"
    )


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About HarmonieCORE Studio", about_text())
