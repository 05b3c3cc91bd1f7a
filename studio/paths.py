"""Where the studio keeps its files, per user and per platform (platformdirs)."""

from pathlib import Path

from platformdirs import PlatformDirs

APP_NAME = "harmonie-studio"
APP_AUTHOR = "HarmonieCORE"


def app_dirs() -> PlatformDirs:
    """Per-user directories. On Linux they follow XDG_*_HOME, which is how tests isolate them."""
    return PlatformDirs(APP_NAME, APP_AUTHOR, ensure_exists=True)


def data_dir() -> Path:
    return Path(app_dirs().user_data_dir)


def config_dir() -> Path:
    return Path(app_dirs().user_config_dir)


def log_dir() -> Path:
    return Path(app_dirs().user_log_dir)
