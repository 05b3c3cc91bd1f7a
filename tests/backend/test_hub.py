"""The join handshake and slow consumers, on the hub itself (no network): events published
while a client is joining are neither lost nor repeated; a client that falls too far behind is
closed (to resume from the database) instead of slowing everyone."""

import asyncio
import json
from typing import Any

from backend import hub as hub_module
from backend.hub import Hub
from backend.ws import CLOSE_TOO_SLOW, frame, stream_to


class FakeSocket:
    def __init__(self, block_sends: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: tuple[int, str] | None = None
        self.unblock = asyncio.Event()
        if not block_sends:
            self.unblock.set()

    async def send_text(self, text: str) -> None:
        await self.unblock.wait()
        self.sent.append(json.loads(text))

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)
        await self.incoming.put({"type": "websocket.disconnect", "code": code})


def _message(message_id: int) -> str:
    return frame("message", message={"id": message_id, "text": f"m{message_id}"})


async def _ignore(_frame: Any) -> None:
    return None


async def test_events_during_join_are_not_lost_or_repeated() -> None:
    hub = Hub()
    socket = FakeSocket()
    subscriber = hub.subscriber(socket.send_text)
    hub.subscribe("chat:s", subscriber)
    # While the joiner reads history (ids 1..2), ids 2 and 3 and a deletion are published.
    hub.dispatch("chat:s", _message(2))
    hub.dispatch("chat:s", frame("deleted", id=1))
    hub.dispatch("chat:s", _message(3))
    assert socket.sent == []  # paused: buffered, not sent ahead of the history
    task = asyncio.create_task(stream_to(socket, subscriber, 2, ("message",), _ignore))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    hub.dispatch("chat:s", _message(4))
    await asyncio.sleep(0.05)
    assert [(f["type"], f.get("id") or f["message"]["id"]) for f in socket.sent] == [
        ("deleted", 1),
        ("message", 3),
        ("message", 4),
    ]
    await socket.incoming.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)


async def test_a_subscriber_too_far_behind_is_closed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(hub_module, "MAX_PENDING", 10)
    hub = Hub()
    slow, fast = FakeSocket(block_sends=True), FakeSocket()
    slow_sub, fast_sub = hub.subscriber(slow.send_text), hub.subscriber(fast.send_text)
    hub.subscribe("chat:s", slow_sub)
    hub.subscribe("chat:s", fast_sub)
    slow_task = asyncio.create_task(stream_to(slow, slow_sub, 0, ("message",), _ignore))  # type: ignore[arg-type]
    fast_task = asyncio.create_task(stream_to(fast, fast_sub, 0, ("message",), _ignore))  # type: ignore[arg-type]
    await asyncio.sleep(0.02)
    for i in range(1, 30):
        hub.dispatch("chat:s", _message(i))
        await asyncio.sleep(0)
    await asyncio.wait_for(slow_task, 5)
    assert slow.closed is not None and slow.closed[0] == CLOSE_TOO_SLOW
    await asyncio.sleep(0.05)
    assert [f["message"]["id"] for f in fast.sent] == list(range(1, 30))
    await fast.incoming.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(asyncio.gather(fast_task, return_exceptions=True), 5)
