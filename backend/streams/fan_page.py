"""The page fans watch on, served by the backend at /fan/ (plain HTML/JS in backend/static/fan)."""

from pathlib import Path

from fastapi.staticfiles import StaticFiles

FAN_PAGE_DIR = Path(__file__).resolve().parent.parent / "static" / "fan"


def fan_page() -> StaticFiles:
    return StaticFiles(directory=FAN_PAGE_DIR, html=True)
