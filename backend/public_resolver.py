"""Outgoing requests to URLs that users gave: only to public addresses.

A push subscription's endpoint comes from a browser, so anyone signed in can name any URL,
and the pusher posts to it from inside the backend's network. An endpoint naming an internal
service (a cloud metadata address, the database host, a loopback port) must never be reached,
however its name resolves when the push is sent (a name that resolved elsewhere when it was
checked included): `PublicResolver` checks the very addresses aiohttp is about to connect to.
aiohttp does not resolve IP literals, so `endpoint_problem` refuses private ones in the URL.
"""

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from backend.config import is_loopback

HTTPS_PORT = 443  # where every browser's push service listens


class NotPublic(OSError):
    """The destination is not on the public internet."""


def is_public(address: str, allow_loopback: bool = False) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def endpoint_problem(url: str, allow_loopback: bool = False) -> str | None:
    """Why `url` may not be posted to (None: it may). `allow_loopback` (local and test
    backends) also lets plain http:// to this machine through."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.scheme not in ("https", "http"):
        return "it is not an http(s) URL"
    if allow_loopback and is_loopback(host):
        return None
    if parts.scheme != "https":
        return "it must be an https:// URL"
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "it names this machine or a private network"
    literal = _ip_literal(host)
    if literal is not None and not is_public(literal):
        return "it names a private address"
    try:
        port = parts.port
    except ValueError:
        return "its port is not a number"
    if port not in (None, HTTPS_PORT):
        return f"push services listen on port {HTTPS_PORT}, not {port}"
    return None


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class PublicResolver(AbstractResolver):
    """Resolves with aiohttp's resolver and keeps only public addresses (loopback too when
    allowed); a name with none left fails with `NotPublic`."""

    def __init__(self, allow_loopback: bool = False, resolver: AbstractResolver | None = None):
        self.allow_loopback = allow_loopback
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        kept = [r for r in found if is_public(r["host"], self.allow_loopback)]
        if not kept:
            raise NotPublic(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        await self._resolver.close()

    def __repr__(self) -> str:
        return f"PublicResolver(allow_loopback={self.allow_loopback})"


def public_connector(allow_loopback: bool = False, **kwargs: Any) -> aiohttp.TCPConnector:
    """An aiohttp connector that reaches public addresses only."""
    return aiohttp.TCPConnector(resolver=PublicResolver(allow_loopback), **kwargs)
