"""HarmonieCORE Studio application core: Qt-free asyncio services the window drives."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("harmoniecore-studio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
