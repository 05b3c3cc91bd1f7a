"""The publishing service the window drives: a queue plus a background worker.

`add(paths)` queues dropped files and folders and wakes the worker, which runs the pipeline
until nothing is runnable. The Library panel only calls these methods and listens to the
queue's signals; the worker lives on the asyncio loop (qasync runs it on Qt's loop).
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from studio.publishing.publisher import WAITING_NODE_DOWN, Publisher
from studio.publishing.upload_queue import QueuedTrack, Refused, State, UploadQueue
from studio.publishing.wiring import (
    QUEUE_FILE,
    PublishingHost,
    gateway_url,
    ipfs_api_url,
    publisher_for,
    rendition_for,
)
from studio.signals import Signal

log = logging.getLogger(__name__)


class PublishService:
    def __init__(
        self,
        queue: UploadQueue,
        make_publisher: Callable[[], Publisher],
        gateway_url: str | Callable[[], str | None] | None = None,
    ) -> None:
        self.queue = queue
        self._make_publisher = make_publisher
        self._gateway_url = gateway_url
        self.changed = queue.changed  # (QueuedTrack)
        self.removed = queue.removed  # (track id)
        self.refused = Signal()  # (list[Refused])
        self.idle = Signal()  # () when the worker has nothing left to do
        self._worker: asyncio.Task[None] | None = None
        self._again = False

    # --- what the panel calls ------------------------------------------------------------

    def waiting_for_node(self) -> bool:
        """Some track waits for the IPFS node (or the backend serving it) to answer again."""
        return any(
            t.detail.startswith(WAITING_NODE_DOWN) for t in self.queue.by_state(State.WAITING)
        )

    def tracks(self) -> list[QueuedTrack]:
        return self.queue.all()

    def published(self) -> list[QueuedTrack]:
        return self.queue.by_state(State.LISTED)

    def overall_progress(self) -> float:
        return self.queue.overall_progress()

    def add(self, paths: Iterable[Path]) -> tuple[list[QueuedTrack], list[Refused]]:
        added, refused = self.queue.add(paths)
        if refused:
            self.refused.emit(refused)
        if added:
            self.kick()
        return added, refused

    def retry(self, track_id: int) -> None:
        self.queue.retry(track_id)
        self.kick()

    def remove(self, track_id: int) -> None:
        self.queue.remove(track_id)

    def edit(self, track_id: int, **values: str) -> None:
        self.queue.edit(track_id, **values)
        self.kick()

    @property
    def gateway_url(self) -> str | None:
        value = self._gateway_url
        return value() if callable(value) else value

    def gateway_link(self, cid: str) -> str:
        base = (self.gateway_url or "https://ipfs.io").rstrip("/")
        return f"{base}/ipfs/{cid}"

    # --- the worker ----------------------------------------------------------------------

    def kick(self) -> None:
        """Start the worker, or make it look again when it finishes its current pass."""
        if self._worker is not None and not self._worker.done():
            self._again = True
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called from a Qt slot: qasync's loop is the current one
            loop = asyncio.get_event_loop_policy().get_event_loop()
        self._worker = loop.create_task(self._work())

    async def _work(self) -> None:
        try:
            while True:
                self._again = False
                await self._make_publisher().run()
                if not self._again:
                    break
        except Exception:
            log.exception("publishing worker stopped")
        finally:
            self.idle.emit()

    async def wait_idle(self) -> None:
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self.queue.close()


def publish_service_for(studio: PublishingHost) -> PublishService:
    """The service as the window uses it, built from the studio's profile and settings.

    The IPFS endpoint, registrar and lister are looked up each time the worker starts a pass,
    so a backend that came up, or a wallet unlocked since, is used without a restart.
    """
    from studio.publishing.ipfs_client import KuboClient

    queue = UploadQueue(studio.data_dir / QUEUE_FILE)
    clients: dict[str, KuboClient] = {}

    def make_publisher() -> Publisher:
        api_url = ipfs_api_url(studio)
        ipfs = None
        if api_url:
            ipfs = clients.setdefault(api_url, KuboClient(api_url))
        return publisher_for(studio, queue, ipfs, rendition_for(studio))

    service_ref: list[PublishService] = []

    def wake(*_: object) -> None:  # a wallet unlocked or a network switched: try again
        with contextlib.suppress(RuntimeError):  # no event loop at all: the next add() will do
            service_ref[0].kick()

    wallet = getattr(studio, "wallet", None)
    if wallet is not None and hasattr(wallet, "changed"):
        wallet.changed.connect(wake)

    service = PublishService(queue, make_publisher, gateway_url=lambda: gateway_url(studio))
    service_ref.append(service)
    return service
