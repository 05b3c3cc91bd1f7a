"""A JSON-RPC proxy on loopback in front of a node, over HTTP (POST /) and WebSocket (GET /),
that plays a node with limits: subclasses answer some requests themselves (`override`)."""

import asyncio
import json
from typing import Any, Self

from aiohttp import ClientSession, WSMsgType, web


def rpc_error(body: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": code, "message": message}}


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream  # the node's http:// URL; its WebSocket is the same host
        self.url = ""
        self.ws_url = ""
        self.methods: list[str] = []  # every method asked, in order

    async def override(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The answer to give instead of the node's, or None to pass the request on."""
        return None

    async def forward(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self._session.post(self.upstream, json=body) as response:
            return await response.json()

    async def start(self) -> Self:
        self._session = ClientSession()
        app = web.Application()
        app.router.add_post("/", self._http)
        app.router.add_get("/", self._websocket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url, self.ws_url = f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/"
        return self

    async def _answer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        self.methods.append(str(body.get("method")))
        return await self.override(body)

    async def _http(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(await self._answer(body) or await self.forward(body))

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse()
        await client.prepare(request)
        upstream_url = "ws" + self.upstream.removeprefix("http")
        async with self._session.ws_connect(upstream_url) as node:
            pump = asyncio.create_task(_pipe(node, client))
            try:
                async for message in client:
                    if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                        break
                    reply = await self._answer(json.loads(message.data))
                    if reply is None:
                        await node.send_str(_text(message.data))
                    else:
                        await client.send_json(reply)
            finally:
                pump.cancel()
        return client

    async def close(self) -> None:
        await self._session.close()
        await self._runner.cleanup()


def _text(data: str | bytes) -> str:
    return data.decode() if isinstance(data, bytes) else data


async def _pipe(node: Any, client: web.WebSocketResponse) -> None:
    async for message in node:
        if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            break
        await client.send_str(_text(message.data))
    await client.close()


class NoSubscriptions(RpcProxy):
    """A node that has no eth_subscribe (many hosted HTTP-first nodes over WebSocket)."""

    async def override(self, body: dict[str, Any]) -> dict[str, Any] | None:
        if body.get("method") == "eth_subscribe":
            return rpc_error(body, -32601, "the method eth_subscribe does not exist")
        return None


class LogRangeLimit(RpcProxy):
    """A node that refuses eth_getLogs over more than `max_blocks` blocks, as hosted nodes do."""

    def __init__(self, upstream: str, max_blocks: int) -> None:
        super().__init__(upstream)
        self.max_blocks = max_blocks
        self.refused = 0
        self.spans: list[int] = []  # blocks per range answered

    async def override(self, body: dict[str, Any]) -> dict[str, Any] | None:
        if body.get("method") != "eth_getLogs" or "fromBlock" not in body["params"][0]:
            return None
        query = body["params"][0]
        span = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
        if span > self.max_blocks:
            self.refused += 1
            return rpc_error(body, -32005, f"query exceeds max block range {self.max_blocks}")
        self.spans.append(span)
        return None
