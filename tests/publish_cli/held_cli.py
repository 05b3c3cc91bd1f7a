"""`harmonie-studio` exactly as installed, except that before the studio stops its local
backend (and with it the in-memory devnet) it writes the backend URL to
$HARMONIE_TEST_HOLD_DIR/backend_url and waits for $HARMONIE_TEST_HOLD_DIR/release, so that
the test can read the devnet's content registry of this very run.

Run as `python -m tests.publish_cli.held_cli publish ...`.
"""

import asyncio
import os
import sys
from pathlib import Path

from studio.core import Studio
from widgets.main import main

HOLD_ENV = "HARMONIE_TEST_HOLD_DIR"
_stop = Studio.stop


async def _held_stop(self: Studio) -> None:
    hold = Path(os.environ[HOLD_ENV])
    if self.backend_url:
        (hold / "backend_url.tmp").write_text(self.backend_url)
        (hold / "backend_url.tmp").rename(hold / "backend_url")
        while not (hold / "release").exists():
            await asyncio.sleep(0.05)
    await _stop(self)


if __name__ == "__main__":
    Studio.stop = _held_stop  # type: ignore[method-assign]
    sys.exit(main())
