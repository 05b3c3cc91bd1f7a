"""A Web Push service on loopback for the backend's tests (RFC 8030's push resource, as
browsers' push services serve it): it checks each push's VAPID Authorization (RFC 8292: the
JWT's ES256 signature with the key in `k`, `aud`, `exp`, `sub`) and decrypts the body
(RFC 8291, aes128gcm) with the subscriber's private key, as the browser would."""

import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from studio.local_backend import free_port

_VAPID = re.compile(r"^vapid t=([A-Za-z0-9_.-]+),\s*k=([A-Za-z0-9_-]+)$")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """One browser: its ECDH key pair and auth secret, and its push resource's URL."""

    endpoint: str
    token: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        """What PushSubscription.toJSON() gives the page."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class PushService:
    port: int
    vapid_public_key: str = ""  # the backend's (GET /push/vapid-public-key); "" checks none
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    received: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    answer: dict[str, int] = field(default_factory=dict)  # token -> status to answer instead
    hold_after: int | None = None  # accept this many, then hold every push until `release`
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0
    requests: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def subscriber(self) -> Subscriber:
        token = secrets.token_urlsafe(12)
        sub = Subscriber(endpoint=f"{self.origin}/push/{token}", token=token)
        self.subscribers[token] = sub
        return sub

    def delivered(self) -> int:
        return sum(len(v) for v in self.received.values())

    def _check(self, request: web.Request, body: bytes, sub: Subscriber) -> dict[str, Any]:
        match = _VAPID.match(request.headers.get("Authorization", ""))
        if match is None:
            raise ValueError(f"no VAPID Authorization: {request.headers.get('Authorization')!r}")
        token, key = match.groups()
        if self.vapid_public_key and key != self.vapid_public_key:
            raise ValueError("the VAPID key is not the backend's")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        claims = jwt.decode(
            token,
            public,
            algorithms=["ES256"],
            audience=self.origin,
            options={"require": ["aud", "exp", "sub"]},
        )
        if claims["exp"] > time.time() + 24 * 3600:
            raise ValueError("the VAPID JWT lives longer than 24 hours (RFC 8292)")
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            raise ValueError(f"the VAPID sub is not a contact URI: {claims['sub']!r}")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            raise ValueError(f"Content-Encoding {request.headers.get('Content-Encoding')!r}")
        if not request.headers.get("TTL", "").isdigit():
            raise ValueError("no TTL header (RFC 8030)")
        plain = http_ece.decrypt(
            body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
        )
        return {"payload": json.loads(plain), "urgency": request.headers.get("Urgency")}

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        token = request.match_info["token"]
        body = await request.read()
        sub = self.subscribers.get(token)
        if sub is None:
            return web.Response(status=404)
        try:
            push = self._check(request, body, sub)
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return web.Response(status=400, text=str(exc))
        if token in self.answer:
            return web.Response(status=self.answer[token])
        if self.hold_after is not None and self.delivered() + self.held >= self.hold_after:
            self.held += 1
            await self.release.wait()
            self.held -= 1
        self.received[token].append(push)
        return web.Response(status=201, headers={"Location": f"{self.origin}/m/{token}"})


@contextlib.asynccontextmanager
async def push_service() -> AsyncIterator[PushService]:
    service = PushService(port=free_port())
    app = web.Application()
    app.router.add_post("/push/{token}", service._handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", service.port)
    await site.start()
    try:
        yield service
    finally:
        service.release.set()
        await runner.cleanup()
