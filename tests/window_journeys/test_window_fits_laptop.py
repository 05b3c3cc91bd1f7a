"""The studio window on a 1366x768 laptop: with its default docks (Wallet; Alerts, Stats and
Chat as tabs; Scenes and Sources under the pages) it fits, and nothing on the Go Live page or
in the scene docks scrolls sideways."""

import asyncio
from pathlib import Path

import pytest
from PySide6.QtWidgets import QAbstractScrollArea

from tests.window_journeys.conftest import Desk

pytestmark = pytest.mark.slow

LAPTOP = (1366, 768)


def test_the_window_with_its_default_docks_fits_a_laptop(on_desk, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario(desk: Desk) -> None:
        window, panel = desk.window, desk.golive
        docks = window.docks
        section = panel.scenes_section
        assert docks["scenes"].widget() is section.scenes_pane
        assert docks["sources"].widget() is section.sources_pane
        assert section.scene_list.isVisibleTo(window) and section.colour.isVisibleTo(window)
        for key in ("wallet", "alerts", "scenes", "sources"):
            assert docks[key].isVisible(), f"the {key} dock is not shown"
        assert window.tabifiedDockWidgets(docks["alerts"]) == [docks["stats"], docks["chat"]]
        for key in ("scenes", "sources"):  # the View menu brings a closed one back
            assert docks[key].toggleViewAction() in window.menuBar().actions()[1].menu().actions()
        hint = window.minimumSizeHint()
        assert hint.width() <= LAPTOP[0] and hint.height() <= LAPTOP[1], hint
        window.tabs.setCurrentWidget(panel)
        window.resize(*LAPTOP)
        await asyncio.sleep(0.5)  # let the layout settle
        assert (window.width(), window.height()) == LAPTOP
        assert panel.preview.width() >= 320 and panel.preview.height() >= 180
        sideways = [
            area.objectName() or type(area).__name__
            for root in (panel, section.scenes_pane, section.sources_pane)
            for area in root.findChildren(QAbstractScrollArea)
            if area.horizontalScrollBar().isVisible()
        ]
        assert not sideways, f"scrolling sideways at 1366x768: {sideways}"
        window.grab().save(str(artifacts_dir / "window-1366x768-golive.png"))

    on_desk(scenario)
