"""The relay and the announced streams (backend.streams.announcements) when both run in one app.

An artist announces a stream (`POST /streams` -> an id) and publishes to `/whip/<that id>`
with the access token of their signed-in session. The relay then reports viewer counts and
the end of the stream back to backend.streams.announcements, which the fan page and the studio read.

Everything here is optional: in an app without the backend's services (a bare relay) each
call answers "no" or does nothing.
"""

import logging
from typing import Any

log = logging.getLogger(__name__)


def _services(app: Any) -> Any | None:
    return getattr(getattr(app, "state", None), "services", None)


def signed_in_address(app: Any, token: str | None) -> str | None:
    """The address a valid access token of this backend belongs to; None otherwise."""
    services = _services(app)
    if services is None or token is None:
        return None
    from backend.auth import TokenError, decode_access_token

    try:
        return decode_access_token(services, token)
    except TokenError:
        return None


async def artist_may_publish(app: Any, stream: str, token: str) -> bool:
    """True when `token` is a valid access token of the artist who announced `stream`."""
    address = signed_in_address(app, token)
    if address is None:
        return False
    from backend.streams import announcements as live

    services = _services(app)
    try:
        announced = await live.get_stream(services, stream)
    except Exception:  # a database hiccup refuses, it does not crash the ingest
        log.exception("cannot look up stream %s", stream)
        return False
    return (
        announced is not None
        and announced.artist_address.lower() == address.lower()
        and announced.ended_at is None
    )


async def report_viewers(app: Any, stream: str, viewers: int) -> None:
    services = _services(app)
    if services is None:
        return
    from backend.streams import announcements as live

    try:
        await live.set_viewers(services, stream, viewers)
    except Exception:
        log.exception("cannot record the viewer count of %s", stream)


async def report_ended(app: Any, stream: str) -> None:
    services = _services(app)
    if services is None:
        return
    from backend.streams import announcements as live

    try:
        await live.mark_ended(services, stream)
    except Exception:
        log.exception("cannot mark stream %s ended", stream)
