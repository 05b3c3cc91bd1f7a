import socket

import httpx
import pytest

from studio import local_backend
from studio.errors import BackendStartError
from studio.local_backend import LocalBackend


async def test_starts_answers_health_and_stops(tmp_path):
    backend = LocalBackend(tmp_path / "data", tmp_path / "log")
    url = await backend.start()
    process = backend.process
    assert httpx.get(f"{url}/health").json()["status"] == "ok"
    assert (tmp_path / "data" / "backend.db").exists(), "SQLite lives in the user data dir"
    await backend.stop()
    assert process is not None and process.poll() is not None


async def test_a_backend_that_cannot_start_gives_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(local_backend, "free_port", lambda host: port)
        backend = LocalBackend(tmp_path / "data", tmp_path / "log")
        with pytest.raises(BackendStartError, match="already in use"):
            await backend.start(attempts=2)
    assert backend.process is None
