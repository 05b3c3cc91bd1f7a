"""The first-run guide (widgets.first_run.guide.FirstRunGuide) and opening it."""

from typing import Any

from studio.core import Studio
from studio.first_run import saved_sources
from widgets.dialogs import show
from widgets.first_run.guide import FirstRunGuide, apply_sources

__all__ = ["FirstRunGuide", "apply_sources", "open_first_run", "restore_sources"]


def open_first_run(window: Any, studio: Studio, journeys: Any) -> FirstRunGuide:
    """Open the guide over the window without waiting for it (it never blocks the loop)."""
    guide = FirstRunGuide(
        studio,
        window,
        wallet_panel=getattr(journeys, "wallet_panel", None),
        golive_panel=getattr(journeys, "golive_panel", None),
    )
    show(guide)
    return guide


def restore_sources(studio: Studio, journeys: Any) -> None:
    """The Go Live page starts from the sources picked in the guide, when there are some."""
    sources = saved_sources(studio.settings)
    if sources is not None and getattr(journeys, "golive_panel", None) is not None:
        apply_sources(journeys.golive_panel, sources)
