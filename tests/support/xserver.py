"""Moved to harness.xserver (benches use it too and must not import tests); kept for callers."""

from harness.xserver import XServer, xvfb_with_tray

__all__ = ["XServer", "xvfb_with_tray"]
