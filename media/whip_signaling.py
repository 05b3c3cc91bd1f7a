"""The HTTP half of WHIP (RFC 9725) and WHEP: POST an SDP offer, DELETE the session.

Shared by the publisher (WHIP) and the player used in tests and benches (WHEP), which speak
the same exchange: `POST` `application/sdp` -> `201 Created` with the answer, a `Location`
naming the session and, optionally, `Link: <stun:...>; rel="ice-server"` headers.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from aiortc import RTCIceServer

from media.whip_errors import (
    WhipAuthError,
    WhipError,
    WhipNoCommonCodec,
    WhipRejected,
    WhipServerError,
    WhipUnreachable,
)

SDP = "application/sdp"

# One link-value: <uri> followed by ;-separated params (quoted or token values).
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[\w*-]+\s*(?:=\s*(?:\"[^\"]*\"|[^;,\s]*))?)*)")
_PARAM = re.compile(r";\s*([\w*-]+)\s*(?:=\s*(\"[^\"]*\"|[^;,\s]*))?")


@dataclass
class SignalingAnswer:
    sdp: str
    location: str  # absolute URL of the session resource
    ice_servers: list[RTCIceServer] = field(default_factory=list)


def parse_ice_server_links(values: list[str]) -> list[RTCIceServer]:
    """ICE servers from `Link` header values with rel="ice-server" (RFC 9725 section 4.6)."""
    servers = []
    for value in values:
        for match in _LINK.finditer(value):
            uri, raw_params = match.group(1).strip(), match.group(2)
            params = {
                name.lower(): (val or "").strip().strip('"')
                for name, val in _PARAM.findall(raw_params)
            }
            if params.get("rel", "").lower() != "ice-server":
                continue
            if not uri.lower().startswith(("stun:", "stuns:", "turn:", "turns:")):
                continue
            servers.append(
                RTCIceServer(
                    urls=uri,
                    username=params.get("username") or None,
                    credential=params.get("credential") or None,
                )
            )
    return servers


def where(url: str) -> str:
    """scheme://host:port of a URL, for messages (paths can carry stream keys)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the ingest"


def _refusal(response: httpx.Response, url: str) -> WhipError:
    status = response.status_code
    detail = response.text.strip()[:300] if response.text else ""
    detail = f": {detail}" if detail else ""
    if status in (401, 403):
        what = "refused the stream key" if status == 401 else "does not allow this key here"
        return WhipAuthError(f"The ingest at {where(url)} {what} ({status}){detail}")
    if status in (406, 415, 422, 488):
        return WhipNoCommonCodec(
            f"The ingest at {where(url)} accepts none of the offered codecs ({status}){detail}"
        )
    if status >= 500:
        return WhipServerError(f"The ingest at {where(url)} failed ({status}){detail}")
    return WhipRejected(f"The ingest at {where(url)} refused the offer ({status}){detail}")


def check_token_transport(url: str, token: str | None) -> None:
    """Refuse to send a stream key in clear text anywhere but to this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WhipRejected(f"'{where(url)}' is not an http(s) URL of a WHIP endpoint.")
    local = parts.hostname in ("localhost", "127.0.0.1", "::1") or parts.hostname.startswith("127.")
    if token and parts.scheme == "http" and not local:
        raise WhipRejected(
            f"Refusing to send the stream key unencrypted to {where(url)}: use an https:// URL."
        )


async def _send(
    client: httpx.AsyncClient, method: str, url: str, sdp: str, headers: dict[str, str], who: str
) -> httpx.Response:
    try:
        return await client.request(method, url, content=sdp.encode(), headers=headers)
    except httpx.TimeoutException:
        raise WhipUnreachable(f"The {who} at {where(url)} did not answer in time.") from None
    except httpx.TransportError as exc:
        reason = type(exc).__name__
        raise WhipUnreachable(f"The {who} at {where(url)} cannot be reached ({reason}).") from None


async def post_offer(
    client: httpx.AsyncClient, url: str, offer_sdp: str, token: str | None = None
) -> SignalingAnswer:
    check_token_transport(url, token)
    headers = {"Content-Type": SDP, "Accept": SDP}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await _send(client, "POST", url, offer_sdp, headers, "ingest")
    if response.status_code != 201:
        raise _refusal(response, url)
    location = response.headers.get("location")
    if not location:
        raise WhipRejected(f"The ingest at {where(url)} answered without a Location header.")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != SDP or not response.text.strip():
        raise WhipRejected(f"The ingest at {where(url)} did not answer with an SDP.")
    return SignalingAnswer(
        sdp=response.text,
        location=urljoin(str(response.url), location),
        ice_servers=parse_ice_server_links(response.headers.get_list("link")),
    )


async def put_answer(
    client: httpx.AsyncClient, location: str, answer_sdp: str, token: str | None = None
) -> None:
    """Hand a viewer's answer to the server that offered (the /watch flow)."""
    headers = {"Content-Type": SDP}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await _send(client, "PUT", location, answer_sdp, headers, "server")
    if response.status_code >= 300:
        raise _refusal(response, location)


async def delete_session(
    client: httpx.AsyncClient, location: str, token: str | None = None
) -> bool:
    """End the session on the server; False when it could not be told (it will time out)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = await client.delete(location, headers=headers)
    except httpx.HTTPError:
        return False
    return response.status_code < 300 or response.status_code == 404
