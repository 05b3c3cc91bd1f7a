"""The backend's loop watchdog: a late turn of its event loop is logged, and a long stall
writes every thread's stack out (the loop relays every show: a stall drops them all)."""

import asyncio
import logging
import time
from pathlib import Path

import pytest

from backend.config import BackendConfig
from backend.loop_watchdog import LoopWatchdog


async def test_a_stall_is_logged_and_a_long_one_dumps_the_stack(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="backend.loop_watchdog")
    dump = tmp_path / "stacks.txt"
    with dump.open("w") as out:
        watchdog = LoopWatchdog(dump_to=out)
        watchdog.start()
        await asyncio.sleep(0.6)  # a few quiet turns

        def sync_call_that_blocks_the_loop(seconds: float) -> None:
            time.sleep(seconds)

        sync_call_that_blocks_the_loop(1.0)
        await asyncio.sleep(0.6)
        assert watchdog.stalls == 1 and not dump.read_text(), "a short stall: logged only"
        sync_call_that_blocks_the_loop(4.6)
        await asyncio.sleep(0.6)
        await watchdog.stop()
    stalls = [r for r in caplog.records if getattr(r, "event", None) == "loop_stall"]
    assert len(stalls) == 2 and stalls[1].ms >= 4000, [r.getMessage() for r in stalls]
    text = dump.read_text()
    assert "Timeout" in text and "sync_call_that_blocks_the_loop" in text, text


def test_only_the_command_lines_backend_watches_its_loop() -> None:
    from backend.cli import build_parser, config_from_args

    assert config_from_args(build_parser().parse_args([])).watch_loop
    assert not BackendConfig().watch_loop  # in-process servers (tests) share faulthandler
