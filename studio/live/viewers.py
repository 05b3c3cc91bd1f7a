"""How many fans watch: the viewer count our backend's relay publishes for a stream."""

from urllib.parse import urlsplit

import httpx


def relay_live_url(whip_url: str) -> tuple[str, str] | None:
    """For our backend's relay (`.../whip/<stream>`): its live list URL and the stream name.

    Any other WHIP ingest has no such list; the studio then shows no viewer count.
    """
    parts = urlsplit(whip_url)
    base, sep, stream = parts.path.rpartition("/whip/")
    if not sep or not stream or "/" in stream:
        return None
    return f"{parts.scheme}://{parts.netloc}{base}/relay/live", stream


async def fetch_viewer_count(whip_url: str) -> int | None:
    target = relay_live_url(whip_url)
    if target is None:
        return None
    url, stream = target
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(url)
        if response.status_code != 200:
            return None
        for entry in response.json():
            if entry.get("stream") == stream:
                return int(entry.get("viewers", 0))
        return 0
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return None
