"""The studio's own data as one archive: `harmonie-studio export PATH` / `import PATH` and the
window's File > Export / Import studio data.

The archive is a zip holding `manifest.json` (format version, app version, when it was made,
the SHA-256 and size of every other member) beside the members: `settings.toml` (scenes are a
table of it), the upload queue's and the tip history's SQLite files. It never holds a secret:
the wallet's keystores and the RTMP stream keys live in the OS keyring and are not read, and
the settings' own secrets (the OBS alert page's) are left out; an import keeps this install's.

An import checks everything before it changes anything: the manifest, every checksum, that
no member is missing or added, that the settings parse and their scenes load, and that each
database opens with its store (which brings an older file up to date, on a copy). Only then
are the stores replaced, each in one SQLite transaction (the online backup API, so a studio
holding them open sees either the old data or the new), and the settings through their API.
A store the archive does not hold (the exporting studio had none yet) is left as it is.
What was there before is kept in a `before-import-<time>` folder of the data dir, and put back
if a later step fails.
"""

import hashlib
import json
import shutil
import sqlite3
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import tomli_w

from chain.sqlite_tx import online_copy
from studio import __version__
from studio.errors import StudioError
from studio.live.scenes import SECTION as SCENES
from studio.live.scenes import SceneError, SceneSet
from studio.publishing.upload_queue import UploadQueue
from studio.publishing.wiring import QUEUE_FILE
from studio.settings import Settings
from studio.tips.overlay_page import SECTION as OVERLAY
from studio.tips.service import TIP_DB
from studio.tips.store import TipStore

FORMAT = 1
MANIFEST = "manifest.json"
SETTINGS = "settings.toml"
SUFFIX = ".harmonie-studio.zip"
# Settings that are secrets of this install: never exported, kept as they are on import.
SECRET_SETTINGS = (f"{OVERLAY}.secret",)
MAX_MEMBER_BYTES = 2 * 1024**3


class ArchiveError(StudioError):
    """An archive that cannot be written or taken; nothing of the studio's data changed."""


class _Store(Protocol):
    def close(self) -> None: ...


# The databases an archive carries, by member name (the file's name in the data dir), each
# with the store that opens it: opening one checks it and brings an older file up to date.
DATABASES: dict[str, Callable[[Path], _Store]] = {QUEUE_FILE: UploadQueue, TIP_DB: TipStore}


@dataclass
class Summary:
    path: Path
    members: list[str]
    kept: Path | None = None  # where an import kept the data it replaced
    counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """What the archive held, for a person: "the settings and scenes, 3 tracks, 2 tips"."""
        return ", ".join(
            [
                "the settings and scenes",
                *(f"{n} {what if n != 1 else what[:-1]}" for what, n in self.counts.items()),
            ]
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_copy(source: Path, target: Path) -> None:
    online_copy(f"file:{source}?mode=ro", target)


def _counts(folder: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, table, label in ((QUEUE_FILE, "tracks", "tracks"), (TIP_DB, "tips", "tips")):
        if (folder / name).exists():
            db = sqlite3.connect(f"file:{folder / name}?mode=ro", uri=True)
            try:
                counts[label] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            finally:
                db.close()
    return counts


def _exported_settings(settings: Settings) -> dict[str, Any]:
    values = settings.as_dict()
    for key in SECRET_SETTINGS:
        values = _without(values, key)
    return values


def _without(values: dict[str, Any], dotted: str) -> dict[str, Any]:
    head, _, rest = dotted.partition(".")
    if head not in values:
        return values
    copy = dict(values)
    if rest and isinstance(copy[head], dict):
        copy[head] = _without(copy[head], rest)
    elif not rest:
        del copy[head]
    return copy


def export_studio(path: Path, settings: Settings, data_dir: Path) -> Summary:
    """Write the studio's data to a new archive at `path` (never over an existing file)."""
    path = Path(path)
    if path.exists():
        raise ArchiveError(f"{path} already exists; choose a new file name.")
    with tempfile.TemporaryDirectory(prefix="harmonie-export-") as tmp:
        staged = Path(tmp)
        (staged / SETTINGS).write_bytes(tomli_w.dumps(_exported_settings(settings)).encode())
        try:
            for name in DATABASES:
                if (data_dir / name).exists():
                    _sqlite_copy(data_dir / name, staged / name)
        except sqlite3.Error as exc:
            raise ArchiveError(f"The studio's data could not be read ({exc}).") from None
        members = sorted(p.name for p in staged.iterdir())
        manifest = {
            "format": FORMAT,
            "app": "harmonie-studio",
            "app_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "members": {
                name: {"sha256": _sha256(staged / name), "size": (staged / name).stat().st_size}
                for name in members
            },
        }
        partial = path.with_name(path.name + ".partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
                for name in members:
                    archive.write(staged / name, name)
            partial.replace(path)
        except OSError as exc:
            raise ArchiveError(f"Could not write {path}: {exc.strerror or exc}.") from None
        finally:
            partial.unlink(missing_ok=True)
        return Summary(path, members, counts=_counts(staged))


def _manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise ArchiveError(f"{path} is not a studio archive (it has no {MANIFEST}).") from None
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{path} is damaged: its manifest cannot be read ({exc}).") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("members"), dict):
        raise ArchiveError(f"{path} is damaged: its manifest is not a studio manifest.")
    found = manifest.get("format")
    if not isinstance(found, int) or isinstance(found, bool):
        raise ArchiveError(f"{path} is damaged: its manifest has no format version.")
    if found > FORMAT:
        raise ArchiveError(
            f"{path} was made by a newer studio ({manifest.get('app_version', 'unknown')}, "
            f"archive format {found}); this studio ({__version__}) reads format {FORMAT}. "
            "Update the studio to import it."
        )
    return manifest


def _unpack(path: Path, into: Path) -> list[str]:
    """Every member checked against the manifest, written to `into`; the member names."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ArchiveError(f"There is no file at {path}.") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{path} is not a studio archive ({exc}).") from None
    with archive:
        manifest = _manifest(archive, path)
        listed: dict[str, Any] = manifest["members"]
        present = {info.filename for info in archive.infolist()} - {MANIFEST}
        known = {SETTINGS, *DATABASES}
        if present != set(listed) or not set(listed) <= known or SETTINGS not in listed:
            odd = sorted((present ^ set(listed)) | (set(listed) - known)) or [SETTINGS]
            raise ArchiveError(
                f"{path} has been altered or is damaged: its files do not match its manifest "
                f"({', '.join(odd)})."
            )
        for name, meta in listed.items():
            expected = meta.get("sha256") if isinstance(meta, dict) else None
            size = meta.get("size") if isinstance(meta, dict) else None
            if not isinstance(expected, str) or not isinstance(size, int) or size < 0:
                raise ArchiveError(f"{path} is damaged: the manifest entry of {name} is wrong.")
            if size > MAX_MEMBER_BYTES:
                raise ArchiveError(f"{path}: {name} is too large to be studio data.")
            digest = hashlib.sha256()
            written = 0
            try:
                with archive.open(name) as src, (into / name).open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > size:
                            break
                        digest.update(chunk)
                        dst.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise ArchiveError(f"{path} is damaged: {name} cannot be read ({exc}).") from None
            if written != size or digest.hexdigest() != expected:
                raise ArchiveError(
                    f"{path} has been altered or is damaged: {name} does not match the "
                    "checksum in its manifest. Nothing was imported."
                )
        return sorted(listed)


def _check_members(folder: Path, members: list[str], path: Path) -> dict[str, Any]:
    """The archive's settings, once every member has proved it opens; databases are brought
    up to date in `folder` by their own stores."""
    try:
        values = tomllib.loads((folder / SETTINGS).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ArchiveError(f"{path}: its settings cannot be read ({exc}).") from None
    if values.get(SCENES) is not None:
        try:
            SceneSet.from_data(values[SCENES])
        except SceneError as exc:
            raise ArchiveError(f"{path}: its scenes cannot be read ({exc}).") from None
    for name in members:
        if name not in DATABASES:
            continue
        try:
            db = sqlite3.connect(f"file:{folder / name}?mode=ro", uri=True)
            try:
                ok = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            finally:
                db.close()
            if ok:
                DATABASES[name](folder / name).close()
        except sqlite3.DatabaseError:
            ok = False
        if not ok:
            raise ArchiveError(f"{path}: {name} in it is not a readable studio database.")
    return values


def import_studio(path: Path, settings: Settings, data_dir: Path) -> Summary:
    """Replace the studio's data with the archive's, after checking all of it."""
    path = Path(path)
    if settings.read_only:
        raise ArchiveError(
            f"{settings.load_error} Fix or remove it before importing: an import would replace it."
        )
    with tempfile.TemporaryDirectory(prefix="harmonie-import-") as tmp:
        staged = Path(tmp)
        members = _unpack(path, staged)
        values = _check_members(staged, members, path)
        for key in SECRET_SETTINGS:  # this install's, never the archive's
            values = _without(values, key)
            mine = settings.get_path(key)
            if mine is not None:
                head, _, rest = key.partition(".")
                values[head] = {**(values.get(head) or {}), rest: mine}
        kept = _keep_current(settings, data_dir)
        before = settings.as_dict()
        replaced: list[str] = []
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            for name in members:
                if name in DATABASES:
                    _sqlite_copy(staged / name, data_dir / name)
                    replaced.append(name)
            settings.replace(values)
            settings.save()
        except (OSError, sqlite3.Error) as exc:
            settings.replace(before)
            _put_back(kept, replaced, data_dir)
            raise ArchiveError(
                f"The import could not be completed ({exc}); your data is as it was."
            ) from None
        return Summary(path, members, kept=kept, counts=_counts(staged))


def _keep_current(settings: Settings, data_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kept = data_dir / f"before-import-{stamp}"
    try:
        kept.mkdir(parents=True)
        for name in DATABASES:
            if (data_dir / name).exists():
                _sqlite_copy(data_dir / name, kept / name)
        if settings.path.exists():
            shutil.copy2(settings.path, kept / SETTINGS)
    except (OSError, sqlite3.Error) as exc:
        shutil.rmtree(kept, ignore_errors=True)
        raise ArchiveError(
            f"Nothing was imported: the current data could not be kept aside first ({exc})."
        ) from None
    return kept


def _put_back(kept: Path, replaced: list[str], data_dir: Path) -> None:
    for name in replaced:
        if (kept / name).exists():
            _sqlite_copy(kept / name, data_dir / name)
        else:  # there was none before: empty it again
            db = sqlite3.connect(data_dir / name)
            try:
                tables = [
                    r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                ]
                for table in tables:
                    db.execute(f'DELETE FROM "{table}"')
                db.commit()
            finally:
                db.close()
