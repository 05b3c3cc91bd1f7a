"""Per-user settings in a TOML file, written atomically.

A settings file that cannot be read is never overwritten: the studio runs on defaults,
tells the person what is wrong and where, and leaves the file for them to fix.
"""

import copy
import logging
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from studio.errors import SettingsError

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "profile": "local",
    "window": {},
    "profiles": {},
}

# Keys the studio sets itself (saved at exit); a reload keeps them when the file lacks them.
STUDIO_WRITTEN = ("window", "wallet_address")


def split_key(key: str) -> list[str]:
    """A dotted key ("video.fps") as its parts; "\\." is a dot inside a part (a file path)."""
    return [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", key)]


class Settings:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, Any] = {
            k: (v.copy() if isinstance(v, dict) else v) for k, v in DEFAULTS.items()
        }
        self.load_error: SettingsError | None = None

    @classmethod
    def open(cls, path: Path) -> "Settings":
        """Load settings; on a broken file keep defaults, remember the error, and stay read-only."""
        settings = cls(path)
        try:
            settings._values.update(read_settings_file(path))
        except SettingsError as exc:
            settings.load_error = exc
            log.warning("settings not loaded: %s", exc)
        return settings

    @property
    def read_only(self) -> bool:
        return self.load_error is not None

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def get_path(self, key: str, default: Any = None) -> Any:
        """The value at a dotted key ("video.fps"); `default` when any part is missing."""
        node: Any = self._values
        for part in split_key(key):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def set_path(self, key: str, value: Any) -> None:
        """Set a dotted key, making its tables; None removes the key (and tables left empty)."""
        *tables, last = split_key(key)
        chain: list[dict[str, Any]] = [self._values]
        for part in tables:
            node = chain[-1].get(part)
            if not isinstance(node, dict):
                if value is None:
                    return
                node = chain[-1][part] = {}
            chain.append(node)
        if value is not None:
            chain[-1][last] = value
            return
        chain[-1].pop(last, None)
        for parent, part in zip(reversed(chain[:-1]), reversed(tables), strict=True):
            if parent[part] or (parent is self._values and part in DEFAULTS):
                break
            del parent[part]

    def reload(self) -> None:
        """Take up the file as it is now (edited by hand while the studio runs)."""
        try:
            values = read_settings_file(self.path)
        except SettingsError as exc:
            self.load_error = exc
            log.warning("settings not reloaded: %s", exc)
            return
        self.load_error = None
        kept = {k: self._values[k] for k in STUDIO_WRITTEN if k in self._values}
        self._values = {k: (v.copy() if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
        self._values.update(kept)  # what the studio set since the last save stays...
        self._values.update(values)  # ...unless the file says otherwise

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of every value (what `save` would write, Nones included)."""
        return copy.deepcopy(self._values)

    def replace(self, values: dict[str, Any]) -> None:
        """Take `values` as the whole settings (an import); the defaults fill what they lack."""
        self._values = {k: (v.copy() if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
        self._values.update(copy.deepcopy(values))

    def profile_overrides(self, profile_name: str) -> dict[str, Any]:
        return dict(self._values.get("profiles", {}).get(profile_name, {}))

    def save(self) -> None:
        """Write atomically (temp file + rename): a crash leaves the old file or the new one."""
        if self.read_only:
            log.warning("settings not saved: %s was unreadable and is left untouched", self.path)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = tomli_w.dumps(_without_none(self._values)).encode()
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".toml", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_settings_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"The settings file {path} cannot be read ({exc}).") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            f"The settings file {path} is damaged ({exc}). The studio is using defaults and "
            "will not change the file; fix or delete it to keep your settings."
        ) from None
    return data


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value
