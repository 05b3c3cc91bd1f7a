"""`harmonie-studio` exactly as installed, except that it stops, for a test to kill it with
SIGKILL, at the point $HARMONIE_TEST_KILL_AT names:

- `upload`: a track's bytes are in the content store, not yet pinned (mid-upload);
- `register`: a registration transaction was broadcast, its receipt not yet seen;
- `end`: every track is done, before the studio stops its backend (tests.publish_cli.held_cli).

At `upload` and `register` it writes $HARMONIE_TEST_HOLD_DIR/reached (for `register`, the
transaction's hash); at `end`, held_cli's backend_url. Run as
`python -m tests.publish_cli.kill_points publish ...`.
"""

import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any

from chain.transactions import TxManager
from studio.core import Studio
from studio.publishing.ipfs_client import KuboClient
from tests.publish_cli import held_cli
from widgets.main import main

KILL_ENV = "HARMONIE_TEST_KILL_AT"


def reached(text: str) -> None:
    hold = Path(os.environ[held_cli.HOLD_ENV])
    (hold / "reached.tmp").write_text(text)
    (hold / "reached.tmp").rename(hold / "reached")


async def _pin_and_hold(self: KuboClient, cid: str) -> None:
    reached(cid)
    await asyncio.Event().wait()  # until SIGKILL


_send = TxManager.send


def _send_and_hold(self: TxManager, *args: Any, **kwargs: Any) -> Any:
    sent = _send(self, *args, **kwargs)
    reached(sent.hash)
    threading.Event().wait()  # this worker thread, until SIGKILL
    return sent


if __name__ == "__main__":
    point = os.environ[KILL_ENV]
    if point == "upload":
        KuboClient.pin = _pin_and_hold  # type: ignore[method-assign]
    elif point == "register":
        TxManager.send = _send_and_hold  # type: ignore[method-assign]
    elif point == "end":
        Studio.stop = held_cli._held_stop  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown kill point {point!r}")
    sys.exit(main())
