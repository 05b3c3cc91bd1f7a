"""What an event follower (chain.event_follower) hands its consumer, and what a consumer
shows of its follower. See chain.event_follower for when each event comes."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chain.event_follower import EventFollower


@dataclass(frozen=True)
class LogBatch:
    first: int
    last: int  # the blocks covered, both included
    logs: list[Any]  # web3 log entries in chain order
    block_hash: str | None = None  # set when one block was read by its hash (near the head)
    final: bool = True  # False: near the head, not yet `confirmations` deep
    timestamps: dict[int, int] = field(default_factory=dict)  # block -> unix s (when asked)


@dataclass(frozen=True)
class Rewound:
    fork: int  # blocks above it left the chain


@dataclass(frozen=True)
class Synced:
    head: int
    confirmed: int


@dataclass(frozen=True)
class StateChanged:
    state: str
    detail: str = ""


FollowerEvent = LogBatch | Rewound | Synced | StateChanged
Handler = Callable[[FollowerEvent], Awaitable[None]]
Addresses = str | Sequence[str]


class FollowerConsumer:
    """Base of a consumer that owns `self.follower`: its lifetime and where it is."""

    follower: "EventFollower"

    def start(self) -> asyncio.Task[None]:
        return self.follower.start()

    async def stop(self) -> None:
        await self.follower.stop()

    @property
    def state(self) -> str:
        return self.follower.state

    @property
    def passes(self) -> int:
        return self.follower.passes

    @property
    def head(self) -> int | None:
        return self.follower.head

    @property
    def scope(self) -> str | None:
        return self.follower.scope
