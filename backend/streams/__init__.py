"""Stream service: WHIP ingest, WHEP playback, the built-in relay and the MediaServer interface."""

from backend.streams.fan_page import fan_page
from backend.streams.media_server import MediaServer, StreamError
from backend.streams.relay import BuiltinRelay
from backend.streams.routes import streams_router

__all__ = ["BuiltinRelay", "MediaServer", "StreamError", "fan_page", "streams_router"]
