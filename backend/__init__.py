"""The small hosted backend (ASGI): sign-in, discovery, chat, notifications, stream relay."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("harmoniecore-studio")
except PackageNotFoundError:
    __version__ = "0.0.0+source"
