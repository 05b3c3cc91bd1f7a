"""The real studio process under Xvfb with a tray host: window, tray, backend, clean quit."""

import os
import signal

import httpx
import pytest

from tests.support.screenshot import save_screen
from tests.support.studio_process import log_path, pid_alive, start_studio, wait_for_event
from tests.support.xserver import xvfb_with_tray

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


@pytest.fixture
def xserver():
    try:
        with xvfb_with_tray() as server:
            yield server
    except FileNotFoundError as missing:
        pytest.skip(f"{missing} is not installed (make system-deps installs it)")


def test_studio_opens_with_tray_and_backend_then_quits_cleanly(xserver, artifacts_dir):
    env = {**xserver.env, **{k: os.environ[k] for k in os.environ if k.startswith("XDG_")}}
    studio = start_studio(env)
    try:
        log = log_path(env)
        shown = wait_for_event(log, "window_shown", process=studio)
        assert shown["tray_available"] is True, "trayer runs, so Qt must see a system tray"
        started = wait_for_event(log, "backend_started", process=studio)
        ready = wait_for_event(log, "services_ready", timeout=60, process=studio)
        assert "wallet" in ready, "the journeys' services were composed"
        health = httpx.get(f"{started['url']}/health", timeout=5).json()
        assert health["status"] == "ok"
        assert health["components"]["database"]["status"] == "ok"

        shot = artifacts_dir / "studio-window.png"
        save_screen(shot, xserver.env)
        assert shot.stat().st_size > 10_000, "a real window draws more than a blank screen"

        studio.send_signal(signal.SIGTERM)
        assert studio.wait(timeout=20) == 0
        wait_for_event(log, "backend_stopped", timeout=5)
        assert not pid_alive(started["pid"]), "quitting the studio stops its backend"
    finally:
        if studio.poll() is None:
            studio.kill()
            studio.wait()
