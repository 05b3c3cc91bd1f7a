# PyInstaller hook (in the spec's hookspath, it replaces the built-in one): QtGui as PyInstaller
# collects it, less the Qt plugins the studio never loads. Left out here, before PyInstaller
# follows their libraries: filtering the build afterwards would still ship what they link to
# (the GTK 3 theme brings GTK 3, GLib, Cairo and Pango from the build machine).
from pathlib import Path

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

# The window draws on X11 (xcb) or Wayland; `offscreen` runs it without a display. The other
# platforms (and the EGL device integrations) are for embedded screens. The XDG desktop
# portal theme gives the desktop's own file dialogs without GTK.
LEFT_OUT = {
    "platforms": {"libqeglfs", "libqlinuxfb", "libqminimal", "libqminimalegl", "libqvnc",
                  "libqvkkhrdisplay"},
    "platformthemes": {"libqgtk3"},
    "egldeviceintegrations": None,  # the whole type
}  # fmt: skip


def wanted(src: str) -> bool:
    path = Path(src)
    if path.parent.name not in LEFT_OUT:
        return True
    names = LEFT_OUT[path.parent.name]
    return names is not None and path.name.split(".")[0] not in names


hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(src, dest) for src, dest in binaries if wanted(src)]
