"""The local profile's chain: the embedded devnet (chain.devnet) served from the backend.

`POST /rpc` answers JSON-RPC (single or batch) for any client: the studio, a fan's script,
the fan page. `GET /chain` tells the chain id, the RPC path and the deployed contracts'
addresses. `POST /chain/faucet` funds an address with test coin. The chain runs in a process
of its own (chain.devnet_process: py-evm holding the GIL would stall the relay's media), started
in the background at start (a second or two); until it is ready those routes wait for it.

The chain lives in `<data dir>/devnet/chain.sqlite` (chain.devnet_store) and continues where it
stopped at the next start. A store that cannot be read is renamed beside it and a new chain
starts; /health's chain component and GET /chain then carry a `notice` saying so.

Opt-in: `mount_devnet(app, enabled=...)`, enabled by default when HARMONIE_DEVNET=1 (the
studio's local backend sets it); a hosted backend serves no devnet.
"""

import asyncio
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from chain.devnet_process import DevnetProcessError

if TYPE_CHECKING:
    from chain.devnet_process import DevnetProcess

RPC_PATH = "/rpc"
FAUCET_PATH = "/chain/faucet"
READY_TIMEOUT_S = 60.0
FAUCET_MAX_WEI = 1_000 * 10**18
STORE_FILE = Path("devnet") / "chain.sqlite"


class DevnetHolder:
    """Starts the devnet's process once, from a thread; callers wait for it."""

    def __init__(self, store_path: Path | None = None) -> None:
        self.store_path = store_path  # None: a chain in memory, new at every start
        self.devnet: DevnetProcess | None = None
        self.error: str | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._build, name="devnet-start", daemon=True)
        self._limiter: CapacityLimiter | None = None

    def start(self) -> None:
        self._thread.start()

    def _build(self) -> None:
        try:
            from chain.devnet_process import DevnetProcess

            self.devnet = DevnetProcess(store_path=self.store_path)
        except Exception as exc:
            self.error = f"the embedded devnet failed to start: {exc}"
        finally:
            self._ready.set()

    async def get(self) -> "DevnetProcess":
        if not self._ready.is_set():
            await asyncio.to_thread(self._ready.wait, READY_TIMEOUT_S)
        if self.devnet is None:
            raise HTTPException(503, self.error or "the embedded devnet is still starting")
        return self.devnet

    async def run(self, func: Any, *args: Any) -> Any:
        # one worker thread waiting on the devnet's pipe: its calls are serialised anyway
        if self._limiter is None:
            self._limiter = CapacityLimiter(1)
        return await to_thread.run_sync(func, *args, limiter=self._limiter)

    def close(self) -> None:
        """End the devnet's process (waits for it to have started)."""
        self._ready.wait(READY_TIMEOUT_S)
        if self.devnet is not None:
            self.devnet.close()
            self.devnet = None
            self.error = "the embedded devnet was stopped"

    def status(self) -> dict[str, object]:
        if not self._ready.is_set():
            return {"status": "starting", "kind": "devnet"}
        if self.devnet is None:
            return {"status": "failed", "kind": "devnet", "detail": self.error or ""}
        status: dict[str, object] = {
            "status": "ok",
            "kind": "devnet",
            "chain_id": self.devnet.chain_id,
            "block": self.devnet.block_number(),
            "rpc_path": RPC_PATH,
        }
        if self.devnet.notice:
            status["notice"] = self.devnet.notice
        return status


class FaucetRequest(BaseModel):
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    wei: int = Field(default=10 * 10**18, gt=0, le=FAUCET_MAX_WEI)


def devnet_router(holder: DevnetHolder) -> APIRouter:
    router = APIRouter(tags=["chain"])

    @router.post(RPC_PATH, summary="JSON-RPC of the embedded devnet")
    async def rpc(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            error = {"code": -32700, "message": "Parse error"}
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error})
        devnet = await holder.get()
        try:
            return JSONResponse(await holder.run(devnet.handle, payload))
        except DevnetProcessError as exc:
            raise HTTPException(503, f"The local chain is not answering: {exc}") from exc

    @router.get("/chain", summary="Chain id, RPC path and contract addresses of the devnet")
    async def chain_info() -> dict[str, Any]:
        devnet = await holder.get()
        info = {
            "network": "local",
            "chain_id": devnet.chain_id,
            "rpc_path": RPC_PATH,
            "contracts": devnet.contracts,
            "dev_accounts": devnet.info.account_addresses,
        }
        return info | ({"notice": devnet.notice} if devnet.notice else {})

    @router.post(FAUCET_PATH, summary="Send test coin to an address (devnet only)")
    async def faucet(body: FaucetRequest) -> dict[str, Any]:
        devnet = await holder.get()
        tx_hash = await holder.run(devnet.fund, body.address, body.wei)
        return {"tx_hash": tx_hash, "wei": body.wei}

    return router


def devnet_enabled() -> bool:
    return os.environ.get("HARMONIE_DEVNET", "") == "1"


def mount_devnet(app: FastAPI, enabled: bool | None = None) -> DevnetHolder | None:
    """Serve the devnet from `app` and register its /health component. Returns the holder.

    The chain is kept in the data directory of `app.state.config` (a BackendConfig); an app
    without one (a test's bare FastAPI) gets a chain in memory."""
    if not (devnet_enabled() if enabled is None else enabled):
        return None
    config = getattr(app.state, "config", None)
    holder = DevnetHolder(Path(config.data_dir) / STORE_FILE if config is not None else None)
    holder.start()
    app.include_router(devnet_router(holder))
    app.state.devnet = holder
    services = getattr(app.state, "services", None)
    checks = getattr(services, "health_checks", None)
    if checks is None:
        checks = app.state.health_checks = getattr(app.state, "health_checks", {})

    async def chain_health() -> dict[str, object]:
        if holder.devnet is None:
            return holder.status()
        return await holder.run(holder.status)  # off the event loop, behind the chain's lock

    checks["chain"] = chain_health
    return holder
