"""ASGI guards every request passes: the real client behind trusted proxies, body size and pace.

- `TrustedProxyHeaders`: uvicorn's ProxyHeadersMiddleware (X-Forwarded-For, only from the
  configured proxies, right to left), also reading RFC 7239 `Forwarded: for=...`.
- `BodyLimits`: a body larger than its route allows is answered 413, before it is read when
  Content-Length says so, or as soon as the streamed bytes pass the limit; a body that stops
  arriving is answered 408. Routes that enforce their own limit (the content store's add,
  which answers in Kubo's error shape) are left to it.
"""

import asyncio
from collections.abc import Mapping

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def human_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def forwarded_for(value: str) -> str:
    """The `for=` nodes of a Forwarded header, as an X-Forwarded-For list (oldest first)."""
    nodes = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, node = pair.strip().partition("=")
            if name.strip().lower() == "for" and node:
                nodes.append(node.strip().strip('"'))
    return ", ".join(nodes)


class TrustedProxyHeaders(ProxyHeadersMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and client[0] in self.trusted_hosts:
            headers = scope["headers"]
            names = {name for name, _ in headers}
            if b"x-forwarded-for" not in names and b"forwarded" in names:
                value = b", ".join(v for n, v in headers if n == b"forwarded").decode("latin1")
                nodes = forwarded_for(value)
                if nodes:
                    scope = {**scope, "headers": [*headers, (b"x-forwarded-for", nodes.encode())]}
        await super().__call__(scope, receive, send)  # type: ignore[arg-type]


class BodyLimits:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_timeout_s: float,
        per_route: Mapping[str, int | None] | None = None,
    ) -> None:
        """`per_route`: exact path -> its own limit (None: the route enforces one itself)."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.per_route = dict(per_route or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.per_route.get(path, self.max_body_bytes)
        too_large = f"the request body is larger than {human_size(limit or 0)}"
        declared = dict(scope["headers"]).get(b"content-length")
        if limit and declared is not None and declared.isdigit() and int(declared) > limit:
            # Answered unread; the server closes the connection rather than drain the body.
            response = JSONResponse({"detail": too_large}, 413, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0
        finished = False

        async def limited() -> Message:
            nonlocal received, finished
            if finished:  # past the body: waiting for a disconnect, however long
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout_s)
            except TimeoutError:
                raise HTTPException(
                    408, f"the request body stopped arriving for {self.body_timeout_s:g} s"
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if limit and received > limit:
                    raise HTTPException(413, too_large)
                finished = not message.get("more_body", False)
            else:
                finished = True
            return message

        await self.app(scope, limited, send)
