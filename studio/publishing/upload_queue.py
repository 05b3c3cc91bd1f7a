"""The publish queue, persisted in SQLite in the user data dir.

Every step of publishing writes its result here before the next starts, so a killed app
resumes where it was: an interrupted analysis or upload is simply redone (both are
idempotent: the CID is the content), and a track caught mid-registration is checked
against the registry before anything is sent again. The `registrations` ledger holds every
CID this studio has seen registered; a CID in it is never registered again.
"""

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from chain.cursor_store import same_chain
from chain.sqlite_tx import immediate
from media.probe import check_accepted
from studio.signals import Signal

log = logging.getLogger(__name__)


class State(StrEnum):
    QUEUED = "queued"
    ANALYSING = "analysing"
    UPLOADING = "uploading"
    PINNED = "pinned"
    REGISTERING = "registering"
    WAITING = "waiting"  # needs something the person can give: a wallet, a backend
    LISTED = "listed"
    FAILED = "failed"
    # registered on a local chain that is gone (deleted or reset): to be registered again
    PREVIOUS_CHAIN = "previous_chain"


ACTIVE = (State.QUEUED, State.ANALYSING, State.UPLOADING, State.PINNED, State.REGISTERING)
EDITABLE_FIELDS = ("title", "artist", "album", "genre", "isrc", "release_date", "artwork_path")

SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    cid TEXT,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    fields TEXT NOT NULL DEFAULT '{}',
    info TEXT NOT NULL DEFAULT '{}',
    outputs TEXT NOT NULL DEFAULT '{}',
    tx_hash TEXT,
    listing_id TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
-- One row per file: queues written before this index held a new row per failed attempt.
DELETE FROM tracks WHERE id IN (
    SELECT t.id FROM tracks t WHERE EXISTS (
        SELECT 1 FROM tracks k WHERE k.path = t.path AND k.id != t.id AND (
            (k.state != 'failed') > (t.state != 'failed')
            OR ((k.state != 'failed') = (t.state != 'failed') AND k.id > t.id)
        )
    )
);
CREATE UNIQUE INDEX IF NOT EXISTS tracks_path ON tracks (path);
CREATE TABLE IF NOT EXISTS registrations (
    cid TEXT PRIMARY KEY,
    metadata_cid TEXT,
    tx_hash TEXT,
    artist TEXT,
    registered_at REAL NOT NULL
);
-- The chain the studio last saw (one row): registrations are stamped with it.
CREATE TABLE IF NOT EXISTS queue_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    genesis TEXT NOT NULL,
    instance TEXT
);
"""
# Columns added after the first release: ALTER TABLE adds them to an older queue.
_ADDED_REGISTRATION_COLUMNS = ("genesis", "instance")
PREVIOUS_CHAIN_DETAIL = (
    "On a previous local chain: that chain is gone, so the track is not registered on the "
    "current one. Register it again."
)


@dataclass
class QueuedTrack:
    id: int
    path: Path
    size: int
    mtime_ns: int
    state: State
    detail: str = ""
    cid: str | None = None
    bytes_done: int = 0
    fields: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    tx_hash: str | None = None
    listing_id: str | None = None

    @property
    def metadata(self) -> dict[str, str]:
        """What gets published: the file's tags, overridden by the person's edits."""
        tags = self.info.get("tags", {})
        return {**tags, **{k: v for k, v in self.fields.items() if v}}

    @property
    def title(self) -> str:
        return self.metadata.get("title") or self.path.stem

    @property
    def progress(self) -> float:
        """0..1 for the whole journey of this track (upload bytes dominate)."""
        if self.state in (State.LISTED,):
            return 1.0
        upload = self.bytes_done / self.size if self.size else 1.0
        base = {
            State.QUEUED: 0.0,
            State.ANALYSING: 0.02,
            State.UPLOADING: 0.1 + 0.8 * upload,
            State.PINNED: 0.9,
            State.REGISTERING: 0.95,
            State.WAITING: 0.95 if self.outputs.get("metadata_cid") else 0.1,
            State.FAILED: 0.0,
            State.PREVIOUS_CHAIN: 0.95,
        }
        return min(1.0, base[self.state])

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "cid": self.cid,
            "status": self.state.value,
            "detail": self.detail,
            "title": self.title,
            "fields": self.fields,
            "info": self.info,
            "outputs": self.outputs,
            "tx_hash": self.tx_hash,
            "listing_id": self.listing_id,
        }


@dataclass(frozen=True)
class Refused:
    path: Path
    reason: str


def file_signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given; folders walked recursively in name order; hidden files skipped."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield path


def _nothing_there(path: Path) -> str | None:
    """Why a path given to add() yields no file at all (None when it yields some)."""
    if not path.exists() and not path.is_symlink():
        return f"{path}: this path does not exist."
    if path.is_dir() and next(expand_paths([path]), None) is None:
        return f"{path}: no files found in this folder."
    return None


class UploadQueue:
    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(registrations)")}
        for column in _ADDED_REGISTRATION_COLUMNS:
            if column not in have:
                self._db.execute(f"ALTER TABLE registrations ADD COLUMN {column} TEXT")
        self.changed = Signal()  # (QueuedTrack) after every persisted change
        self.removed = Signal()  # (track id)

    def close(self) -> None:
        self._db.close()

    # --- adding and reading --------------------------------------------------------------

    def add(self, paths: Iterable[Path]) -> tuple[list[QueuedTrack], list[Refused]]:
        """Queue accepted audio files (folders expand); refuse the rest with the reason.

        A file has one row, whatever happens to it: adding it again returns its row, and a
        failed one is tried again (from its start if the file changed since)."""
        added: list[QueuedTrack] = []
        refused: list[Refused] = []
        for given in paths:
            reason = _nothing_there(Path(given))
            if reason is not None:
                refused.append(Refused(Path(given).absolute(), reason))
                continue
            for path in expand_paths([given]):
                path = path.absolute()
                try:
                    check_accepted(path)
                except Exception as exc:  # MediaError: a sentence for the person
                    refused.append(Refused(path, str(exc)))
                    continue
                added.append(self._row_for(path))
        return added, refused

    def _row_for(self, path: Path) -> QueuedTrack:
        existing = self.find(path)
        if existing is None:
            size, mtime_ns = file_signature(path)
            now = time.time()
            self._db.execute(
                "INSERT INTO tracks (path, size, mtime_ns, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO NOTHING",
                (str(path), size, mtime_ns, State.QUEUED.value, now, now),
            )
            track = self.find(path)  # ours, or the one another process just added
            assert track is not None
            self.changed.emit(track)
            return track
        if existing.state not in (State.FAILED, State.PREVIOUS_CHAIN):  # else: publish again
            return existing
        if file_signature(path) != (existing.size, existing.mtime_ns):
            return self.requeue(existing.id, "")
        return self.retry(existing.id)

    def find(self, path: Path) -> QueuedTrack | None:
        """The row of the file at `path`, in whatever state."""
        row = self._db.execute("SELECT * FROM tracks WHERE path = ?", (str(path),)).fetchone()
        return _track(row) if row else None

    def get(self, track_id: int) -> QueuedTrack:
        row = self._db.execute("SELECT * FROM tracks WHERE id = ?", (track_id,)).fetchone()
        if row is None:
            raise KeyError(f"no track {track_id} in the queue")
        return _track(row)

    def all(self) -> list[QueuedTrack]:
        return [_track(r) for r in self._db.execute("SELECT * FROM tracks ORDER BY id")]

    def runnable(self) -> list[QueuedTrack]:
        placeholders = ",".join("?" * len(ACTIVE))
        rows = self._db.execute(
            f"SELECT * FROM tracks WHERE state IN ({placeholders}) ORDER BY id",
            [s.value for s in ACTIVE],
        )
        return [_track(r) for r in rows]

    def by_state(self, state: State) -> list[QueuedTrack]:
        rows = self._db.execute("SELECT * FROM tracks WHERE state = ? ORDER BY id", (state.value,))
        return [_track(r) for r in rows]

    def overall_progress(self) -> float:
        tracks = [t for t in self.all() if t.state not in (State.FAILED, State.PREVIOUS_CHAIN)]
        if not tracks:
            return 1.0
        total = sum(max(t.size, 1) for t in tracks)
        return sum(t.progress * max(t.size, 1) for t in tracks) / total

    # --- changing ------------------------------------------------------------------------

    def update(self, track_id: int, **changes: Any) -> QueuedTrack:
        columns = []
        values: list[Any] = []
        for name, value in changes.items():
            if name in ("fields", "info", "outputs"):
                value = json.dumps(value, ensure_ascii=False)
            elif name == "state":
                value = State(value).value
            elif name == "path":
                value = str(value)
            columns.append(f"{name} = ?")
            values.append(value)
        columns.append("updated_at = ?")
        values.append(time.time())
        values.append(track_id)
        self._db.execute(f"UPDATE tracks SET {', '.join(columns)} WHERE id = ?", values)
        track = self.get(track_id)
        self.changed.emit(track)
        return track

    def set_state(self, track_id: int, state: State, detail: str = "") -> QueuedTrack:
        return self.update(track_id, state=state, detail=detail)

    def set_progress(self, track_id: int, bytes_done: int) -> None:
        """Progress is frequent: persisted, but without touching the other columns."""
        self._db.execute("UPDATE tracks SET bytes_done = ? WHERE id = ?", (bytes_done, track_id))
        self.changed.emit(self.get(track_id))

    def edit(self, track_id: int, **values: str) -> QueuedTrack:
        """The person's edits to title/artist/album/genre/ISRC/release date/artwork file."""
        unknown = set(values) - set(EDITABLE_FIELDS)
        if unknown:
            raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
        track = self.get(track_id)
        if track.state in (State.REGISTERING, State.LISTED):
            raise ValueError(
                f"{track.title} is already registered; its details can no longer change here."
            )
        fields = {**track.fields, **{k: str(v).strip() for k, v in values.items()}}
        outputs = {k: v for k, v in track.outputs.items() if k not in ("metadata_cid",)}
        if "artwork_path" in values:
            outputs = {k: v for k, v in outputs.items() if not k.startswith("artwork")}
        state = track.state
        if state in (State.PINNED, State.WAITING) and not track.tx_hash:
            state = State.UPLOADING if "artwork_path" in values else State.PINNED
        return self.update(track_id, fields=fields, outputs=outputs, state=state)

    def retry(self, track_id: int) -> QueuedTrack:
        track = self.get(track_id)
        if track.state not in (State.FAILED, State.WAITING, State.PREVIOUS_CHAIN):
            return track
        if track.state is State.PREVIOUS_CHAIN:  # register again, on the chain there is now
            return self.update(track_id, state=State.REGISTERING, detail="", tx_hash=None)
        if track.outputs.get("metadata_cid"):
            resume = State.REGISTERING  # on IPFS already: only registration/listing is left
        elif track.cid:
            resume = State.UPLOADING  # analysed; the upload step re-checks the file first
        else:
            resume = State.QUEUED
        return self.update(track_id, state=resume, detail="")

    def requeue(self, track_id: int, detail: str) -> QueuedTrack:
        """The file changed: what was learnt from its old bytes goes, and it starts over."""
        return self.update(
            track_id,
            state=State.QUEUED,
            detail=detail,
            cid=None,
            outputs={},
            bytes_done=0,
            tx_hash=None,
            listing_id=None,
        )

    def remove(self, track_id: int) -> None:
        track = self.get(track_id)
        if track.state is State.REGISTERING:
            raise ValueError(f"{track.title} is being registered on chain; wait for it to finish.")
        self._db.execute("DELETE FROM tracks WHERE id = ?", (track_id,))
        self.removed.emit(track_id)

    def recover(self) -> list[QueuedTrack]:
        """After a restart: steps caught mid-way are redone from their start."""
        rows = self._db.execute(
            "UPDATE tracks SET bytes_done = 0 WHERE state IN (?, ?) RETURNING id",
            (State.ANALYSING.value, State.UPLOADING.value),
        ).fetchall()
        if rows:
            log.info("resuming %d interrupted track(s)", len(rows))
        return self.runnable()

    # --- the registration ledger ---------------------------------------------------------

    def registration(self, cid: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM registrations WHERE cid = ?", (cid,)).fetchone()
        return dict(row) if row else None

    def record_registration(
        self, cid: str, metadata_cid: str | None, tx_hash: str | None, artist: str | None
    ) -> None:
        genesis, instance = self.chain() or (None, None)
        self._db.execute(
            "INSERT INTO registrations (cid, metadata_cid, tx_hash, artist, registered_at,"
            " genesis, instance) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cid) DO NOTHING",
            (cid, metadata_cid, tx_hash, artist, time.time(), genesis, instance),
        )

    # --- which chain the registrations are on ----------------------------------------------

    def chain(self) -> tuple[str, str | None] | None:
        """(genesis hash, instance id) of the chain last adopted, if any."""
        row = self._db.execute("SELECT genesis, instance FROM queue_chain").fetchone()
        return None if row is None else (row["genesis"], row["instance"])

    def adopt_chain(self, genesis: str, instance: str | None) -> list[QueuedTrack]:
        """The node is on this chain now. Registrations made on another chain (a local
        devnet deleted or reset) leave the ledger, and their tracks become PREVIOUS_CHAIN
        (never "Listed" for a registration the chain no longer has), to be registered
        again. Returns those tracks: empty when the chain is the one known, or the first."""
        genesis, instance = genesis.lower(), instance.lower() if instance else None
        known = self.chain()
        if same_chain(known, genesis, instance):
            if instance and known is not None and not known[1]:
                self._db.execute("UPDATE queue_chain SET instance = ?", (instance,))
            return []
        with immediate(self._db) as db:
            # registrations made before chains were recorded were on the chain known then
            stamp = known or (genesis, instance)
            db.execute(
                "UPDATE registrations SET genesis = ?, instance = ? WHERE genesis IS NULL",
                stamp,
            )
            db.execute(
                "INSERT OR REPLACE INTO queue_chain (id, genesis, instance) VALUES (1, ?, ?)",
                (genesis, instance),
            )
            gone = [
                row["cid"]
                for row in db.execute("SELECT cid, genesis, instance FROM registrations")
                if not same_chain((row["genesis"], row["instance"]), genesis, instance)
            ]
            db.executemany("DELETE FROM registrations WHERE cid = ?", [(c,) for c in gone])
            ids = [
                row["id"]
                for cid in gone
                for row in db.execute(
                    "SELECT id FROM tracks WHERE cid = ? AND state IN (?, ?, ?, ?)",
                    (cid, State.LISTED, State.REGISTERING, State.WAITING, State.FAILED),
                )
            ]
            db.executemany(
                "UPDATE tracks SET state = ?, detail = ?, tx_hash = NULL, updated_at = ?"
                " WHERE id = ?",
                [(State.PREVIOUS_CHAIN.value, PREVIOUS_CHAIN_DETAIL, time.time(), i) for i in ids],
            )
        moved = [self.get(i) for i in ids]
        for track in moved:
            self.changed.emit(track)
        return moved


def _track(row: sqlite3.Row) -> QueuedTrack:
    return QueuedTrack(
        id=row["id"],
        path=Path(row["path"]),
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        state=State(row["state"]),
        detail=row["detail"],
        cid=row["cid"],
        bytes_done=row["bytes_done"],
        fields=json.loads(row["fields"]),
        info=json.loads(row["info"]),
        outputs=json.loads(row["outputs"]),
        tx_hash=row["tx_hash"],
        listing_id=row["listing_id"],
    )
