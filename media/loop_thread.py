"""An asyncio event loop in a thread of its own, for a show's network work.

The WHIP publisher (aiortc: packetizing, SRTP, RTCP, ICE keepalives) runs here rather than
on the caller's loop. In the studio window that loop is qasync's: it pays a Qt timer for
every callback and reads one datagram per turn of the Qt event loop, so while the window
painted, the ingest's reports queued for seconds and the publisher's hundreds of callbacks a
second took the GUI thread's time. A plain asyncio loop on its own thread does the same work
for less and is never held up by painting.

Coroutines are handed over with `run` (awaited from another loop; cancelling the awaiting
task cancels the coroutine here), objects bound to a loop (aiortc tracks, queues) are made
with `call` so they belong to this one.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
CLOSE_S = 5.0  # what still runs on the loop at close gets this long to end once cancelled


class LoopThread:
    def __init__(self, name: str = "net-loop") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._loop

    def start(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait()

    def submit(self, coro: Coroutine[Any, Any, T]) -> "concurrent.futures.Future[T]":
        """Schedule `coro` on this loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on this loop and await its result from the caller's loop."""
        return await asyncio.wrap_future(self.submit(coro))

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Call `function(*args)` on this loop's thread (for what binds to the running loop)."""

        async def body() -> T:
            return function(*args)

        return await self.run(body())

    async def aclose(self) -> None:
        """`close` without blocking the caller's loop."""
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        """Cancel what still runs on the loop, then end it and join its thread (blocking)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive() and thread is not threading.current_thread():
            if loop.is_running():
                with contextlib.suppress(Exception):
                    self.submit(_cancel_others()).result(CLOSE_S + 1)
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(loop.stop)
            thread.join(CLOSE_S)
            if thread.is_alive():
                log.warning("%s did not end within %.0f s", self.name, CLOSE_S)
                return
        self._loop = self._thread = None


async def _cancel_others() -> None:
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=CLOSE_S)
    await asyncio.get_running_loop().shutdown_asyncgens()
