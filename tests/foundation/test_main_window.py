"""The window with pytest-qt, offscreen."""

import logging

import pytest
from PySide6.QtWidgets import QMessageBox

from studio.core import Studio
from studio.profiles import load_profile
from studio.settings import Settings
from widgets import crash
from widgets.about import about_text
from widgets.main_window import MainWindow


@pytest.fixture
def studio(tmp_path) -> Studio:
    settings = Settings.open(tmp_path / "settings.toml")
    return Studio(load_profile("local"), settings, tmp_path / "data", tmp_path / "log")


@pytest.fixture
def window(qtbot, studio) -> MainWindow:
    w = MainWindow(studio)
    qtbot.addWidget(w)
    return w


def test_has_the_journeys_places(window):
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Go Live", "Library"]
    assert set(window.docks) == {"wallet", "chat", "alerts", "stats", "scenes", "sources"}


def test_status_bar_follows_the_studio(window, studio, qtbot):
    studio._set_status(backend="connected", backend_url="http://127.0.0.1:1")
    qtbot.waitUntil(lambda: window.status_bar.backend_label.text() == "Backend: connected")
    assert window.status_bar.profile_label.text() == "Profile: local"
    studio._set_status(backend="unreachable", backend_detail="connection refused")
    qtbot.waitUntil(lambda: "unreachable" in window.status_bar.backend_label.text())
    assert "connection refused" in window.status_bar.backend_label.toolTip()


def test_closing_hides_to_tray_when_there_is_one(window, qtbot):
    window.show()
    window.can_hide_to_tray = True
    with qtbot.assertNotEmitted(window.quit_requested), qtbot.waitSignal(window.hidden_to_tray):
        window.close()
    assert not window.isVisible()


def test_closing_without_tray_quits(window, qtbot):
    window.show()
    with qtbot.waitSignal(window.quit_requested):
        window.close()


def test_layout_and_page_are_remembered(qtbot, studio, tmp_path):
    first = MainWindow(studio)
    qtbot.addWidget(first)
    first.tabs.setCurrentIndex(1)
    first.save_layout()
    studio.settings.save()
    reopened = Settings.open(studio.settings.path)
    assert reopened.get("window")["page"] == "library"
    studio.settings = reopened
    second = MainWindow(studio)
    qtbot.addWidget(second)
    assert second.tabs.currentIndex() == 1


def test_a_closed_scenes_dock_stays_closed_and_view_brings_it_back(qtbot, studio):
    first = MainWindow(studio)
    qtbot.addWidget(first)
    first.show()
    assert first.docks["scenes"].isVisible() and first.docks["sources"].isVisible()
    first.docks["scenes"].close()  # its title bar's close button
    first.save_layout()
    second = MainWindow(studio)
    qtbot.addWidget(second)
    second.show()
    assert not second.docks["scenes"].isVisible() and second.docks["sources"].isVisible()
    view = second.menuBar().actions()[1].menu()
    toggle = next(a for a in view.actions() if a.text() == "Scenes")
    assert not toggle.isChecked()
    toggle.trigger()
    assert second.docks["scenes"].isVisible()
    for window in (first, second):
        window.can_hide_to_tray = False


def test_replacing_a_page_keeps_its_place(window):
    from PySide6.QtWidgets import QLabel

    window.set_page("golive", "Go Live", QLabel("panel"))
    assert window.tabs.tabText(0) == "Go Live"
    assert window.tabs.widget(0) is window.pages["golive"]


def test_uncaught_exception_is_logged_and_shown(qtbot, window, caplog):
    with caplog.at_level(logging.CRITICAL, logger="studio.crash"):
        try:
            raise ValueError("the mixer fell over")
        except ValueError as exc:
            crash.handle_exception(type(exc), exc, exc.__traceback__)
    assert any("uncaught exception" in r.message for r in caplog.records)
    box = crash._errors.box
    assert isinstance(box, QMessageBox) and "the mixer fell over" in box.text()
    assert "ValueError" in box.detailedText()
    box.done(0)


def test_about_lists_versions():
    text = about_text()
    for name in ("HarmonieCORE Studio", "Python", "Qt", "PySide6", "aiortc"):
        assert name in text
