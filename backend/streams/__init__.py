"""Stream service: WHIP ingest, WHEP playback, the built-in relay and the MediaServer interface."""

from backend.streams.fan_page import fan_page
from backend.streams.janus_server import JanusMediaServer, media_server_for
from backend.streams.media_server import MediaServer, StreamError
from backend.streams.relay import BuiltinRelay
from backend.streams.routes import streams_router

__all__ = [
    "BuiltinRelay",
    "JanusMediaServer",
    "MediaServer",
    "StreamError",
    "fan_page",
    "media_server_for",
    "streams_router",
]
