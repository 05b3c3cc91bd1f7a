"""Peer connections with an explicit ICE configuration, and loopback-only host candidates.

Every peer connection in the project is made here, so none ever falls back to a public STUN
server: the ICE server list is whatever the caller names (a profile setting or a WHIP Link
header), empty otherwise.

aioice never offers 127.0.0.1 as a host candidate. That makes two peers on one machine without
any other interface (a network namespace holding only `lo`, where our end-to-end tests run)
unable to connect at all. `HARMONIE_ICE_LOOPBACK` changes that:
  - unset: aioice's own choice, plus 127.0.0.1 when the machine has no other IPv4 address;
  - "only": 127.0.0.1 alone (tests: media never leaves loopback).
"""

import contextlib
import os
import socket
from collections.abc import Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

LOOPBACK_ENV = "HARMONIE_ICE_LOOPBACK"
LOOPBACK = "127.0.0.1"
SOCKET_BUFFER_BYTES = 2 * 1024 * 1024

_original_get_host_addresses = aioice.ice.get_host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    policy = os.environ.get(LOOPBACK_ENV, "").strip().lower()
    if policy == "only":
        return [LOOPBACK] if use_ipv4 else []
    addresses = _original_get_host_addresses(use_ipv4, use_ipv6)
    if use_ipv4 and not any(":" not in a for a in addresses):
        addresses.append(LOOPBACK)
    return addresses


def install_loopback_policy() -> None:
    """Make aioice gather host candidates through `_host_addresses` (idempotent)."""
    aioice.ice.get_host_addresses = _host_addresses


def peer_connection(ice_servers: Sequence[RTCIceServer] = ()) -> RTCPeerConnection:
    """A peer connection whose ICE servers are exactly `ice_servers` (often none)."""
    install_loopback_policy()
    return RTCPeerConnection(RTCConfiguration(iceServers=list(ice_servers)))


def enlarge_socket_buffers(pc: RTCPeerConnection, size: int = SOCKET_BUFFER_BYTES) -> int:
    """Give the connection's UDP sockets room for keyframe bursts; returns sockets changed.

    With the default ~200 KB receive buffer, a busy process loses a keyframe's burst of
    packets (dozens at once) while its event loop serves other connections. Call after
    setLocalDescription, when the sockets exist. The kernel caps `size` at net.core.rmem_max.
    """
    changed = 0
    gatherers = {t.receiver.transport.transport.iceGatherer for t in pc.getTransceivers()}
    for gatherer in gatherers:
        connection = getattr(gatherer, "_connection", None)  # aioice, private
        for protocol in getattr(connection, "_protocols", []):
            transport = getattr(protocol, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
                changed += 1
    return changed


def ice_servers_from_urls(urls: Sequence[str]) -> list[RTCIceServer]:
    """`stun:`/`turn:` URLs from a profile setting, without credentials."""
    return [RTCIceServer(urls=url) for url in urls if url.strip()]
