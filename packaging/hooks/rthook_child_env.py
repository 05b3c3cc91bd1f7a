# PyInstaller runtime hook (runs before the app): the bootloader puts the bundle's own library
# folder first on LD_LIBRARY_PATH, and every program the app starts would inherit it: espeak-ng
# or the browser xdg-open opens would load the bundle's GLib, fontconfig or ALSA instead of
# the system's. The app itself is already loaded by then (the dynamic loader reads the
# variable once, at start), so only child processes see the user's own value again; a child
# that is this executable (the backend, the devnet) gets the bundle's back from its bootloader.
import os

_original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
if _original is not None:
    os.environ["LD_LIBRARY_PATH"] = _original
else:
    os.environ.pop("LD_LIBRARY_PATH", None)
