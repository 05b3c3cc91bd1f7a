"""A studio process for the kill/resume test: `python -m tests.uploads.publish_worker CONFIG`.

It runs the same `Publisher` the app and the CLI run, on the persistent queue named in the
JSON config, with the ContentRegistry registrar (anvil) and the backend lister; it adds the
config's paths (a no-op for paths already queued) and works until nothing is runnable.
"""

import asyncio
import json
import sys
from pathlib import Path

from web3 import Web3

from chain.devnet import dev_accounts
from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import BackendLister, Publisher
from studio.publishing.registrar import ContentRegistryRegistrar
from studio.publishing.upload_queue import UploadQueue


async def main(config: dict) -> int:
    queue = UploadQueue(Path(config["queue"]))
    account = dev_accounts(10)[config["account"]]
    registrar = ContentRegistryRegistrar(
        Web3(Web3.HTTPProvider(config["rpc_url"])), config["registry"], account
    )

    async def token() -> str:
        return config["token"]

    lister = BackendLister(config["backend_url"], token)
    queue.add([Path(p) for p in config["paths"]])
    async with KuboClient(config["backend_url"]) as ipfs:
        publisher = Publisher(queue, ipfs, Path(config["work"]), registrar=registrar, lister=lister)
        results = await publisher.run()
    for track in results:
        print(json.dumps({"path": str(track.path), "cid": track.cid, "status": track.state.value}))
    queue.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(json.loads(Path(sys.argv[1]).read_text()))))
