"""A stand-in for the studio: `python -m tests.foundation.backend_parent DIR` starts (or
adopts) the local backend on DIR/data, prints one JSON line (url, pid, adopted) and waits to
be killed."""

import asyncio
import json
import sys
from pathlib import Path

from studio.local_backend import LocalBackend


async def main(root: Path) -> None:
    backend = LocalBackend(root / "data", root / "log")
    url = await backend.start()
    adopted = getattr(backend, "adopted", None)
    pid = adopted.pid if adopted is not None else backend.process.pid  # type: ignore[union-attr]
    print(json.dumps({"url": url, "pid": pid, "adopted": adopted is not None}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
