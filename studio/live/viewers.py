"""How many fans watch: the viewer count our backend's relay publishes for a stream."""

import asyncio
from urllib.parse import urlsplit

import httpx

VIEWERS_TIMEOUT_S = 2.0


def relay_live_url(whip_url: str) -> tuple[str, str] | None:
    """For our backend's relay (`.../whip/<stream>`): its live list URL and the stream name.

    Any other WHIP ingest has no such list; the studio then shows no viewer count.
    """
    parts = urlsplit(whip_url)
    base, sep, stream = parts.path.rpartition("/whip/")
    if not sep or not stream or "/" in stream:
        return None
    return f"{parts.scheme}://{parts.netloc}{base}/relay/live", stream


async def fetch_viewer_count(whip_url: str, client: httpx.AsyncClient | None = None) -> int | None:
    """The relay's viewer count for `whip_url`'s stream; None when it cannot be known.

    Pass a `client` to reuse its connections (a show asks once a second: see ViewerCounter).
    """
    target = relay_live_url(whip_url)
    if target is None:
        return None
    url, stream = target
    try:
        if client is None:
            async with _client(url) as own:
                response = await own.get(url)
        else:
            response = await client.get(url)
        if response.status_code != 200:
            return None
        for entry in response.json():
            if entry.get("stream") == stream:
                return int(entry.get("viewers", 0))
        return 0
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return None


def _client(url: str) -> httpx.AsyncClient:
    # httpx builds an SSL context (CA bundle loaded) for every client unless told not to
    # verify; a plain http:// relay (the local backend) never uses it. Redirects are not
    # followed, so this client never reaches an https:// URL unverified.
    https = urlsplit(url).scheme == "https"
    return httpx.AsyncClient(timeout=VIEWERS_TIMEOUT_S, verify=https, follow_redirects=False)


class ViewerCounter:
    """Asks the relay for a show's viewer count over one HTTP client (one connection kept
    alive, one SSL context) instead of a new client per question. `aclose()` at the show's
    end; a later `count()` opens a new client. A client is bound to its event loop: a
    question from another loop gets its own."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._key: tuple[asyncio.AbstractEventLoop, str] | None = None

    async def count(self, whip_url: str) -> int | None:
        target = relay_live_url(whip_url)
        if target is None:
            return None
        key = (asyncio.get_running_loop(), urlsplit(target[0]).scheme)
        if self._key is not None and self._key[0] is not key[0]:
            self._client = self._key = None  # its connections belong to the other loop
        if self._client is None or self._key != key:
            await self.aclose()
            self._client, self._key = _client(target[0]), key
        return await fetch_viewer_count(whip_url, self._client)

    async def aclose(self) -> None:
        client, self._client, self._key = self._client, None, None
        if client is not None:
            await client.aclose()
