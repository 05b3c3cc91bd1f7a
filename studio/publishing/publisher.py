"""The publish pipeline: analyse -> rendition -> CID -> IPFS add -> metadata -> register -> list.

Each step reads what the previous one persisted in the queue and persists its own result
before the next starts; a step that fails marks its track failed with the reason and the
queue goes on with the next track. Registration and listing go through two small
interfaces, `Registrar` (the wallet + content registry) and `Lister` (the backend), so a
profile without a wallet or a backend leaves the track clearly waiting instead of
pretending it was published.
"""

# Over 450 lines on purpose: the Publisher's steps (analyse, upload, metadata, register, list)
# each persist into the queue and read what the previous one left; one module keeps that order.

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from media.artwork import clean_artwork, read_artwork_file
from media.cid import CidResult, file_cid
from media.fingerprint import fingerprint
from media.loudness import LoudnessMeter
from media.probe import MediaError, decode_blocks, probe
from media.rendition import rendition_format, transcode
from media.tags import Artwork, read_tags
from media.waveform import PeakCollector, render_png
from studio.errors import StudioError
from studio.publishing.ipfs_client import IpfsUnreachable, KuboClient, PinningServiceClient
from studio.publishing.upload_queue import QueuedTrack, State, UploadQueue, file_signature

if TYPE_CHECKING:
    from backend.wire import TrackIn

log = logging.getLogger(__name__)

WAITING_NO_WALLET = (
    "waiting: no wallet — unlock or create a wallet to register this track on chain; "
    "it is on IPFS and nothing is lost."
)
WAITING_NO_BACKEND = "waiting: no backend — set a backend in Settings to list this track for fans."
WAITING_NODE_DOWN = "waiting: the node is unreachable"
WAITING_NO_IPFS = "waiting: no IPFS node — set an IPFS API URL in Settings to upload this track."


@dataclass(frozen=True)
class Registration:
    cid: str
    artist: str
    tx_hash: str | None
    mine: bool = True


@dataclass(frozen=True)
class TrackToRegister:
    """One track of a registration, as the artist knows it (title and artwork) and as the
    registry does (CIDs)."""

    cid: str
    metadata_cid: str
    title: str
    artwork: bytes | None = None  # the image file's bytes, for a thumbnail


class Registrar(Protocol):
    """The content registry seen through the wallet (its confirmation flow included)."""

    async def find(self, cid: str) -> Registration | None:
        """The registration of `cid` already on chain, if any."""
        ...

    async def register(
        self, cid: str, metadata_cid: str, on_submitted: Callable[[str], None]
    ) -> Registration:
        """Send the registry transaction (after the person confirms) and wait for its receipt.

        `on_submitted(tx_hash)` is called as soon as the hash is known, before waiting.
        Raises StudioError (or chain errors) with a human reason: rejected, reverted, no funds.
        """
        ...


class BatchRegistrar(Registrar, Protocol):
    """A registrar that registers several tracks after one confirmation (one transaction
    where the registry allows it)."""

    async def register_many(
        self, tracks: Sequence[TrackToRegister], on_submitted: Callable[[str], None]
    ) -> list[Registration]:
        """Like `register`, for all of `tracks` at once; one Registration per track."""
        ...


class Minter(Protocol):
    """Optional: the track's first NFT edition, minted once after registration."""

    async def editions(self, cid: str) -> int: ...

    async def mint(
        self,
        cid: str,
        metadata_cid: str,
        on_submitted: Callable[[str], None],
        track: TrackToRegister | None = None,
    ) -> str:
        """Mint (after the person confirms `track`, by title); returns the transaction hash."""
        ...


class Lister(Protocol):
    async def list_track(self, listing: dict[str, Any]) -> str:
        """Publish the listing to the backend; idempotent per CID. Returns the listing id.

        Raises ListingHeld when the backend holds it for review (it is not shown to fans)."""
        ...


class ListingHeld(StudioError):
    """The backend stored the listing but holds it for review; str() is its reason."""

    def __init__(self, reason: str, listing_id: str) -> None:
        super().__init__(reason)
        self.listing_id = listing_id


class ListingRejected(StudioError):
    """A reviewer of the backend kept the listing off; str() says why. Final: the track fails
    with the reason (publishing it again asks again)."""


class TrackChanged(StudioError):
    pass


def metadata_document(track: QueuedTrack, gateway_url: str | None = None) -> dict[str, Any]:
    """ERC-721 metadata (name, description, image, animation_url, attributes) + audio fields."""
    meta = track.metadata
    info = track.info
    outputs = track.outputs
    loudness = info.get("loudness", {})
    attributes = [
        {"trait_type": label, "value": meta[key]}
        for key, label in (
            ("artist", "Artist"),
            ("album", "Album"),
            ("genre", "Genre"),
            ("isrc", "ISRC"),
            ("release_date", "Release date"),
        )
        if meta.get(key)
    ]
    attributes.append({"trait_type": "Duration", "value": round(info.get("duration_s", 0.0), 3)})
    if loudness.get("integrated_lufs") is not None:
        attributes.append({"trait_type": "Loudness (LUFS)", "value": loudness["integrated_lufs"]})
    document: dict[str, Any] = {
        "name": meta.get("title") or track.path.stem,
        "description": " — ".join(x for x in (meta.get("artist"), meta.get("album")) if x),
        "attributes": attributes,
        "audio": {
            "uri": f"ipfs://{track.cid}",
            "cid": track.cid,
            "file_name": track.path.name,
            "size": track.size,
            "container": info.get("container"),
            "codec": info.get("codec"),
            "duration_s": info.get("duration_s"),
            "sample_rate": info.get("sample_rate"),
            "channels": info.get("channels"),
            "integrated_lufs": loudness.get("integrated_lufs"),
            "true_peak_dbtp": loudness.get("true_peak_dbtp"),
        },
        "properties": {
            k: meta.get(k, "")
            for k in ("title", "artist", "album", "genre", "isrc", "release_date")
        },
    }
    if outputs.get("artwork_cid"):
        document["image"] = f"ipfs://{outputs['artwork_cid']}"
    if outputs.get("rendition_cid"):
        document["animation_url"] = f"ipfs://{outputs['rendition_cid']}"
        document["streaming"] = {
            "uri": f"ipfs://{outputs['rendition_cid']}",
            "cid": outputs["rendition_cid"],
            "format": outputs.get("rendition_format"),
            "mime": outputs.get("rendition_mime"),
        }
    if outputs.get("waveform_cid"):
        document["waveform"] = f"ipfs://{outputs['waveform_cid']}"
    if gateway_url:
        document["external_url"] = f"{gateway_url.rstrip('/')}/ipfs/{track.cid}"
    return document


def listing_for(track: QueuedTrack) -> dict[str, Any]:
    """What the backend stores to show the track to fans (shared wire shape: plain JSON)."""
    meta = track.metadata
    return {
        "cid": track.cid,
        "metadata_cid": track.outputs.get("metadata_cid"),
        "title": meta.get("title") or track.path.stem,
        "artist_name": meta.get("artist", ""),
        "album": meta.get("album", ""),
        "genre": meta.get("genre", ""),
        "isrc": meta.get("isrc", ""),
        "release_date": meta.get("release_date", ""),
        "duration_s": track.info.get("duration_s"),
        "artwork_cid": track.outputs.get("artwork_cid"),
        "rendition_cid": track.outputs.get("rendition_cid"),
        "waveform_cid": track.outputs.get("waveform_cid"),
        "loudness_lufs": track.info.get("loudness", {}).get("integrated_lufs"),
        "fingerprint": track.info.get("fingerprint"),
        "tx_hash": track.tx_hash,
    }


@dataclass(frozen=True)
class Analysis:
    info: dict[str, Any]
    tags: dict[str, str]
    artwork: Artwork | None
    waveform_png: bytes
    cid: CidResult


def analyse_file(path: Path, artwork_path: str | None = None) -> Analysis:
    """Probe, tags, one decoding pass for loudness and waveform, and the CID. Blocking."""
    info = probe(path)
    tags = read_tags(path)
    meter: LoudnessMeter | None = None
    expected_frames = max(1, int(info.duration_s * info.sample_rate))
    peaks = PeakCollector(expected_frames)
    frames = 0
    rate = info.sample_rate
    for block, rate in decode_blocks(path):
        if meter is None:
            meter = LoudnessMeter(rate, block.shape[1])
        meter.add(block)
        peaks.add(block)
        frames += len(block)
    if meter is None or frames == 0:
        raise MediaError(f"{path.name}: contains no audio samples (damaged or truncated).")
    loudness = meter.result()
    if artwork_path:
        artwork: Artwork | None = read_artwork_file(Path(artwork_path))
    elif tags.artwork is not None:
        artwork = clean_artwork(tags.artwork.data, f"the artwork inside {path.name}")
    else:
        artwork = None
    details = info.as_dict()
    details["duration_s"] = round(frames / rate, 3)  # decoded, not the header's estimate
    details["loudness"] = loudness.as_dict()
    found = fingerprint(path)  # what the backend compares with other artists' recordings
    if found is not None:
        details["fingerprint"] = found.raw
    return Analysis(details, tags.as_dict(), artwork, render_png(peaks.peaks()), file_cid(path))


class Publisher:
    """Runs queued tracks through the pipeline, one at a time, until none is runnable."""

    def __init__(
        self,
        queue: UploadQueue,
        ipfs: KuboClient | None,
        work_dir: Path,
        *,
        registrar: Registrar | None = None,
        lister: Lister | None = None,
        rendition: str | None = "opus",
        gateway_url: str | None = None,
        dry_run: bool = False,
        pinning: PinningServiceClient | None = None,
        minter: Minter | None = None,
    ) -> None:
        self.queue = queue
        self.ipfs = ipfs
        self.work_dir = Path(work_dir)
        self.registrar = registrar
        self.lister = lister
        self.rendition = rendition
        self.gateway_url = gateway_url
        self.dry_run = dry_run
        self.pinning = pinning  # a hosted pinning service, asked to pin every published CID
        self.minter = minter  # set when the artist chose to mint an NFT edition of each track
        if rendition:
            rendition_format(rendition)  # refuse an unknown format before any work

    async def run(
        self,
        only: set[int] | None = None,
        on_done: Callable[[QueuedTrack], None] | None = None,
    ) -> list[QueuedTrack]:
        """Process runnable tracks (all, or only those ids); return them in their final state.

        `on_done(track)` is called as each track reaches the end of this pass.
        """
        self.queue.recover()
        for waiting in self.queue.by_state(State.WAITING):  # maybe a wallet or backend appeared
            if only is None or waiting.id in only:
                self.queue.retry(waiting.id)
        done: dict[int, QueuedTrack] = {}
        ready: dict[int, QueuedTrack] = {}  # on IPFS, waiting for the batch registration
        while True:
            pending = [
                t
                for t in self.queue.runnable()
                if (only is None or t.id in only) and t.id not in done and t.id not in ready
            ]
            if not pending:
                break
            track = pending[0]
            if self._batching():  # registered together below, after one confirmation
                track = await self.process(track, until_registration=True)
                if self._needs_registration(track):
                    ready[track.id] = track
                    continue
            else:
                track = await self.process(track)
            done[track.id] = track
            if on_done is not None:
                on_done(track)
        if ready:
            for track in await self._register_batch(list(ready.values())):
                done[track.id] = track
                if on_done is not None:
                    on_done(track)
        return list(done.values())

    async def process(self, track: QueuedTrack, until_registration: bool = False) -> QueuedTrack:
        """Take `track` as far as it goes (with `until_registration`, to the registration)."""
        try:
            for _ in range(
                3
            ):  # a file re-saved while queued is analysed again, a few times at most
                try:
                    return await self._advance(track, until_registration)
                except TrackChanged as exc:
                    track = self.queue.requeue(track.id, str(exc))
            raise TrackChanged(
                f"{track.path.name} keeps changing; publish it again once it is saved."
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return self._stopped(track, exc)

    def _stopped(self, track: QueuedTrack, exc: Exception) -> QueuedTrack:
        """The state a failure leaves `track` in, with its reason."""
        if isinstance(exc, IpfsUnreachable):  # not the track's fault: on when the node is back
            log.warning("track %s waits: %s", track.path, exc)
            return self.queue.set_state(
                track.id,
                State.WAITING,
                f"{WAITING_NODE_DOWN}. {exc} It goes on when the node answers again.",
            )
        reason = str(exc) or type(exc).__name__  # every failure is this track's, with its reason
        log.warning("track %s failed: %s", track.path, reason)
        return self.queue.set_state(track.id, State.FAILED, reason)

    async def _advance(self, track: QueuedTrack, until_registration: bool = False) -> QueuedTrack:
        if track.state in (State.QUEUED, State.ANALYSING):
            track = await self._analyse(track)
            if self.dry_run:
                return track
        if track.state is State.UPLOADING:
            if self.ipfs is None:
                return self.queue.set_state(track.id, State.WAITING, WAITING_NO_IPFS)
            track = await self._upload(track)
        if track.state is State.PINNED:
            track = await self._add_metadata(track)
        if track.state is State.REGISTERING and not (
            until_registration and self._needs_registration(track)
        ):
            track = await self._register_and_list(track)
        return track

    # --- registering several tracks at once -------------------------------------------------

    def _batching(self) -> bool:
        return self.registrar is not None and hasattr(self.registrar, "register_many")

    def _needs_registration(self, track: QueuedTrack) -> bool:
        return (
            track.state is State.REGISTERING
            and track.cid is not None
            and self.queue.registration(track.cid) is None
        )

    async def _register_batch(self, tracks: list[QueuedTrack]) -> list[QueuedTrack]:
        """Register `tracks` after one confirmation (one transaction where the registry
        allows it), record each in the ledger, then mint and list each as usual.

        Those the registry already holds are not sent again: ours are recorded, someone
        else's fail alone. A refusal or a failed transaction fails every track it carried."""
        registrar = self.registrar
        assert registrar is not None and hasattr(registrar, "register_many")
        todo: dict[str, TrackToRegister] = {}
        for track in tracks:
            assert track.cid
            try:
                existing = await registrar.find(track.cid)
            except Exception as exc:
                return [self._stopped(t, exc) for t in tracks]
            if existing is not None and not existing.mine:
                self._stopped(track, StudioError(_taken(track, existing)))
            elif existing is not None:
                self.queue.record_registration(
                    track.cid, track.outputs["metadata_cid"], existing.tx_hash, existing.artist
                )
            elif track.cid not in todo:  # the same file queued twice is registered once
                todo[track.cid] = TrackToRegister(
                    track.cid,
                    track.outputs["metadata_cid"],
                    track.title,
                    await asyncio.to_thread(_artwork_bytes, track.outputs.get("artwork_path")),
                )
        sending = [t for t in tracks if t.cid in todo]
        if todo:
            for track in sending:
                self.queue.set_state(track.id, State.REGISTERING, "waiting for wallet confirmation")

            def submitted(tx_hash: str) -> None:
                for track in sending:
                    self.queue.update(
                        track.id, tx_hash=tx_hash, detail="transaction sent, waiting for it"
                    )

            try:
                registered = await registrar.register_many(list(todo.values()), submitted)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                for track in sending:
                    self._stopped(track, exc)
            else:
                for registration, item in zip(registered, todo.values(), strict=True):
                    self.queue.record_registration(
                        item.cid, item.metadata_cid, registration.tx_hash, registration.artist
                    )
        finished = []
        for track in tracks:
            track = self.queue.get(track.id)
            if track.state is State.REGISTERING and self.queue.registration(track.cid or ""):
                track = self.queue.update(track.id, detail="registered")
                track = await self.process(track)  # the ledger has it: on to minting and listing
            finished.append(track)
        return finished

    # --- steps ---------------------------------------------------------------------------

    def _check_unchanged(self, track: QueuedTrack) -> None:
        try:
            size, mtime_ns = file_signature(track.path)
        except FileNotFoundError:
            raise MediaError(
                f"{track.path.name}: the file no longer exists at {track.path.parent}."
            ) from None
        if (size, mtime_ns) != (track.size, track.mtime_ns):
            raise TrackChanged(
                f"{track.path.name} changed after it was queued; analysing it again."
            )

    async def _analyse(self, track: QueuedTrack) -> QueuedTrack:
        track = self.queue.set_state(track.id, State.ANALYSING, track.detail)
        try:
            before = file_signature(track.path)
        except FileNotFoundError:
            raise MediaError(
                f"{track.path.name}: the file no longer exists at {track.path.parent}."
            ) from None
        analysis = await asyncio.to_thread(
            analyse_file, track.path, track.fields.get("artwork_path")
        )
        if file_signature(track.path) != before:
            raise TrackChanged(
                f"{track.path.name} changed while it was analysed; analysing it again."
            )
        outputs: dict[str, Any] = {}
        folder = self.work_dir / str(track.id)
        folder.mkdir(parents=True, exist_ok=True)
        if analysis.artwork is not None:
            outputs.update(_save_artwork(folder, analysis.artwork))
        waveform_path = folder / "waveform.png"
        waveform_path.write_bytes(analysis.waveform_png)
        outputs.update(waveform_path=str(waveform_path), waveform_cid=file_cid(waveform_path).cid)
        if self.rendition and not self.dry_run:
            fmt = rendition_format(self.rendition)
            rendition_path = await asyncio.to_thread(
                transcode, track.path, folder / "stream", fmt.name
            )
            outputs.update(
                rendition_path=str(rendition_path),
                rendition_cid=(await asyncio.to_thread(file_cid, rendition_path)).cid,
                rendition_format=fmt.name,
                rendition_mime=fmt.mime,
            )
        info = {**analysis.info, "tags": analysis.tags}
        registered = self.queue.registration(analysis.cid.cid)
        detail = (
            "already registered on chain; it will be listed, not registered again"
            if registered
            else ""
        )
        return self.queue.update(
            track.id,
            state=State.UPLOADING,
            detail=detail,
            cid=analysis.cid.cid,
            size=before[0],
            mtime_ns=before[1],
            info=info,
            outputs=outputs,
            bytes_done=0,
        )

    async def _upload(self, track: QueuedTrack) -> QueuedTrack:
        assert self.ipfs is not None and track.cid
        self._check_unchanged(track)
        track = self.queue.set_state(track.id, State.UPLOADING, track.detail)
        step = max(1, track.size // 200)
        last = [0]

        def progress(sent: int, total: int) -> None:
            if sent - last[0] >= step or sent == total:
                last[0] = sent
                self.queue.set_progress(track.id, sent)

        if await self.ipfs.has(track.cid):  # e.g. added before the app was killed
            self.queue.set_progress(track.id, track.size)
        else:
            await self.ipfs.add(track.path, expected_cid=track.cid, on_progress=progress)
        self._check_unchanged(track)  # the bytes sent were the bytes analysed
        outputs = dict(track.outputs)
        chosen = track.fields.get("artwork_path")
        if chosen and not outputs.get("artwork_cid"):  # chosen after the analysis
            artwork = await asyncio.to_thread(read_artwork_file, Path(chosen))
            outputs.update(_save_artwork(self.work_dir / str(track.id), artwork))
        for kind in ("artwork", "waveform", "rendition"):
            path, cid = outputs.get(f"{kind}_path"), outputs.get(f"{kind}_cid")
            if path and cid:
                if not Path(path).exists():
                    raise TrackChanged(
                        f"the {kind} of {track.path.name} was cleaned up; redoing it."
                    )
                await self.ipfs.add(Path(path), expected_cid=cid)
        await self.ipfs.pin(track.cid)
        if self.pinning is not None and not outputs.get("remote_pin_request"):
            status = await self.pinning.add_pin(
                track.cid, name=track.title, meta={"app": "harmonie"}
            )
            outputs["remote_pin_request"] = status.get("requestid")
            outputs["remote_pin_status"] = status.get("status")
        return self.queue.update(
            track.id, state=State.PINNED, bytes_done=track.size, outputs=outputs
        )

    async def _add_metadata(self, track: QueuedTrack) -> QueuedTrack:
        assert self.ipfs is not None
        document = metadata_document(track, self.gateway_url)
        path = self.work_dir / str(track.id) / "metadata.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1), encoding="utf-8"
        )
        metadata_cid = file_cid(path).cid
        await self.ipfs.add(path, expected_cid=metadata_cid)
        outputs = {**track.outputs, "metadata_cid": metadata_cid, "metadata_path": str(path)}
        return self.queue.update(track.id, state=State.REGISTERING, outputs=outputs)

    async def _mint(self, track: QueuedTrack, metadata_cid: str) -> QueuedTrack:
        assert self.minter is not None and track.cid
        if await self.minter.editions(track.cid) > 0:
            return self.queue.update(track.id, outputs={**track.outputs, "nft_tx": "minted before"})
        track = self.queue.set_state(track.id, State.REGISTERING, "minting the NFT edition")

        def submitted(tx_hash: str) -> None:
            self.queue.update(track.id, detail=f"NFT mint sent ({tx_hash})")

        subject = TrackToRegister(
            track.cid,
            metadata_cid,
            track.title,
            await asyncio.to_thread(_artwork_bytes, track.outputs.get("artwork_path")),
        )
        tx_hash = await self.minter.mint(track.cid, metadata_cid, submitted, subject)
        return self.queue.update(track.id, outputs={**track.outputs, "nft_tx": tx_hash})

    async def _register_and_list(self, track: QueuedTrack) -> QueuedTrack:
        assert track.cid
        metadata_cid = track.outputs["metadata_cid"]
        ledger = self.queue.registration(track.cid)
        if ledger is None:
            if self.registrar is None:
                return self.queue.set_state(track.id, State.WAITING, WAITING_NO_WALLET)
            track = self.queue.set_state(track.id, State.REGISTERING, "")
            existing = await self.registrar.find(track.cid)
            if existing is not None and not existing.mine:
                raise StudioError(_taken(track, existing))
            if existing is None:
                track = self.queue.set_state(
                    track.id, State.REGISTERING, "waiting for wallet confirmation"
                )

                def submitted(tx_hash: str) -> None:
                    self.queue.update(
                        track.id, tx_hash=tx_hash, detail="transaction sent, waiting for it"
                    )

                existing = await self.registrar.register(track.cid, metadata_cid, submitted)
            self.queue.record_registration(
                track.cid, metadata_cid, existing.tx_hash, existing.artist
            )
            track = self.queue.update(
                track.id, tx_hash=existing.tx_hash or track.tx_hash, detail="registered"
            )
        elif not track.tx_hash and ledger.get("tx_hash"):
            track = self.queue.update(track.id, tx_hash=ledger["tx_hash"])
        if self.minter is not None and not track.outputs.get("nft_tx"):
            track = await self._mint(track, metadata_cid)
        if self.lister is None:
            return self.queue.set_state(track.id, State.WAITING, WAITING_NO_BACKEND)
        try:
            listing_id = await self.lister.list_track(listing_for(track))
        except ListingHeld as held:  # asked again on the next run, in case it was reviewed
            log.warning("track %s held by the backend: %s", track.path, held)
            return self.queue.update(
                track.id, state=State.WAITING, detail=str(held), listing_id=held.listing_id
            )
        return self.queue.update(
            track.id, state=State.LISTED, detail="", listing_id=str(listing_id)
        )


def _save_artwork(folder: Path, artwork: Artwork) -> dict[str, str]:
    """The checked artwork written where the upload finds it; its outputs."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"artwork{artwork.extension}"
    path.write_bytes(artwork.data)
    return {"artwork_path": str(path), "artwork_cid": file_cid(path).cid}


def _artwork_bytes(path: str | None) -> bytes | None:
    """The artwork the analysis saved, for the confirmation's thumbnail (None: none, or gone)."""
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def _taken(track: QueuedTrack, existing: Registration) -> str:
    return (
        f"{track.path.name}: this exact file ({track.cid}) is already registered on "
        f"chain by {existing.artist}; it is not registered again."
    )


class BackendLister:
    """Lists tracks with the backend's `POST /tracks` (idempotent per CID), as the artist.

    `token` returns the artist's backend session token (Sign-In with Ethereum); the token is
    only ever put in the Authorization header.
    """

    def __init__(
        self,
        backend_url: str,
        token: Callable[[], Awaitable[str]],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.backend_url = backend_url.rstrip("/")
        self._token = token
        self._transport = transport

    async def list_track(self, listing: dict[str, Any]) -> str:
        body = track_in(listing).model_dump(mode="json")
        headers = {"Authorization": f"Bearer {await self._token()}"}
        try:
            async with httpx.AsyncClient(timeout=30, transport=self._transport) as client:
                response = await client.post(
                    f"{self.backend_url}/tracks", json=body, headers=headers
                )
        except httpx.HTTPError as exc:
            raise StudioError(
                f"The backend at {self.backend_url} is unreachable ({exc})."
            ) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise StudioError(f"The backend refused the listing: {detail}")
        return listed_id(response.json())


class BackendClientLister:
    """The `Lister` on the studio's signed-in `BackendClient` (it renews its own tokens)."""

    def __init__(self, client: Any) -> None:  # studio.social.backend_client.BackendClient
        self.client = client

    async def list_track(self, listing: dict[str, Any]) -> str:
        track = await self.client.list_track(track_in(listing))
        return listed_id(track.model_dump(mode="json"))


def track_in(listing: dict[str, Any]) -> "TrackIn":
    """The backend's request body for `listing` (see `listing_for`)."""
    from backend.wire import TrackIn

    return TrackIn(
        title=(listing["title"] or "Untitled").splitlines()[0][:200],
        cid=listing["cid"],
        duration_s=max(0.001, float(listing.get("duration_s") or 0.001)),
        loudness_lufs=listing.get("loudness_lufs"),
        artwork_cid=listing.get("artwork_cid"),
        fingerprint=listing.get("fingerprint"),
    )


def listed_id(track: dict[str, Any]) -> str:
    """The id of the backend's answer `track`; ListingHeld if the backend holds it,
    ListingRejected if its reviewer kept it off."""
    if track.get("status") == "rejected":
        raise ListingRejected(track.get("held_reason") or "The backend's reviewer rejected it.")
    if track.get("status") == "held":
        raise ListingHeld(
            track.get("held_reason") or "The backend holds this track for review.",
            str(track["id"]),
        )
    return str(track["id"])
