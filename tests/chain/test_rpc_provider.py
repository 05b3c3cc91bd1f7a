"""AsyncRpcProvider: cancelled requests cannot wedge the process's HTTP calls (web3.py#3867).

A slow loopback JSON-RPC server stands in for the node: what is under test is the client's
session handling under cancellation, not a chain."""

import asyncio
import json
import random
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web
from web3 import AsyncWeb3, Web3
from web3._utils.http_session_manager import HTTPSessionManager

from chain.rpc_provider import AsyncRpcProvider
from studio.local_backend import free_port


async def _answer(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    await asyncio.sleep(random.uniform(0, 0.02))
    result = {"eth_chainId": "0x45c", "eth_blockNumber": "0x7"}[body["method"]]
    return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})


@pytest.fixture(scope="module")
def rpc_url() -> Iterator[str]:
    port = free_port()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/", _answer)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


async def test_requests_cancelled_at_any_point_leave_every_later_call_working(
    rpc_url: str,
) -> None:
    w3 = AsyncWeb3(AsyncRpcProvider(rpc_url))
    for _ in range(60):
        calls = [asyncio.create_task(w3.eth.block_number) for _ in range(4)]
        await asyncio.sleep(random.uniform(0, 0.01))
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
    assert not HTTPSessionManager._lock.locked(), "web3's process-wide lock was left taken"
    assert await asyncio.wait_for(w3.eth.chain_id, 5) == 1116
    sync_w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 5}))
    assert await asyncio.wait_for(asyncio.to_thread(lambda: sync_w3.eth.block_number), 5) == 7
    await w3.provider.disconnect()


async def test_a_request_does_not_wait_for_web3s_process_wide_lock(rpc_url: str) -> None:
    w3 = AsyncWeb3(AsyncRpcProvider(rpc_url))
    HTTPSessionManager._lock.acquire()  # what a cancelled stock request leaves behind
    try:
        assert await asyncio.wait_for(w3.eth.chain_id, 5) == 1116
    finally:
        HTTPSessionManager._lock.release()
        await w3.provider.disconnect()


def test_each_event_loop_gets_its_own_working_session(rpc_url: str) -> None:
    provider = AsyncRpcProvider(rpc_url)
    w3 = AsyncWeb3(provider)
    sessions = []

    async def twice() -> None:
        assert await w3.eth.block_number == 7
        assert await w3.eth.block_number == 7
        (session,) = [s for _, s in provider._request_session_manager.session_cache.items()][-1:]
        sessions.append(session)

    asyncio.run(twice())
    asyncio.run(twice())  # the first loop is closed: its session is replaced, not reused
    assert sessions[0] is not sessions[1]
    assert not sessions[1].closed
    asyncio.run(provider.disconnect())
    assert sessions[1].closed
