"""`harmonie-studio publish` killed with SIGKILL takes its local backend (and the devnet in
it) along, and the next run on the same data dir starts one backend again."""

from pathlib import Path

import httpx
import pytest

from tests.publish_cli.conftest import Shell, make_track
from tests.publish_cli.test_publish_with_wallet import HeldRun
from tests.support.studio_process import (
    backends_on,
    end_backends_on,
    kill_and_wait_backend_gone,
    wait_gone,
)

pytestmark = pytest.mark.slow


def test_a_killed_publish_leaves_no_backend_and_runs_again(shell: Shell, tmp_path: Path) -> None:
    track = make_track(tmp_path, "01 dawn", "Dawn", 440)
    data = shell.data_dir / "backend"
    first = HeldRun(shell, "first", "publish", track)  # no wallet: the track waits for one
    try:
        url = first.backend_url()
        (backend,) = backends_on(data)
        # SIGKILL, before it stops its backend: the devnet in the backend goes with it
        took = kill_and_wait_backend_gone(first.kill, backend, url)
        print(f"publish's backend exited {took:.2f} s after the command's kill -9")

        again = HeldRun(shell, "again", "publish", track)
        try:
            url = again.backend_url()
            (second,) = backends_on(data)  # one backend on the database
            assert second != backend
            assert httpx.get(f"{url}/health", timeout=5).json()["status"] == "ok"
            code, lines, err = again.release()
        finally:
            again.kill()
        assert code == 0, err[-3000:]
        assert [(line["path"], line["status"]) for line in lines] == [(str(track), "waiting")]
        wait_gone(second)
    finally:
        first.kill()
        end_backends_on(data)
