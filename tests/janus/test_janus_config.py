"""Choosing the media server is configuration: flags or environment, the relay by default."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from backend.cli import build_parser, config_from_args, main
from backend.config import BackendConfig
from backend.streams.keys import read_ingest_token
from harness.processes import end
from media.whip import WhipPublisher
from studio.local_backend import free_port
from tests.janus.conftest import JanusBackend
from tests.janus.test_janus_stream import Viewer, go_live
from tests.live_relay.packet_source import EncodedTestSource

ROOT = Path(__file__).resolve().parents[2]


def parse(*argv: str, **env: str) -> BackendConfig:
    old = dict(os.environ)
    os.environ.update(env)
    try:
        return config_from_args(build_parser().parse_args(list(argv)))
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_flags_and_environment_name_janus_and_its_edges(tmp_path: Path) -> None:
    default = parse()
    assert (default.media_server, default.janus_url, default.janus_edges) == ("relay", None, ())
    flags = parse(
        "--media-server", "janus", "--janus-url", "http://10.0.0.1:8088/janus",
        "--janus-edge", "http://10.0.0.2:8088/janus", "--janus-edge", "http://10.0.0.3:8088/janus",
    )  # fmt: skip
    assert flags.janus_url == "http://10.0.0.1:8088/janus"
    assert flags.janus_edges == ("http://10.0.0.2:8088/janus", "http://10.0.0.3:8088/janus")
    env = parse(
        HARMONIE_MEDIA_SERVER="janus",
        HARMONIE_JANUS_URL="http://o:8088/janus",
        HARMONIE_JANUS_EDGES="http://a:8088/janus, http://b:8088/janus",
        HARMONIE_JANUS_API_SECRET="s3cret-never-shown",
    )
    assert (env.media_server, env.janus_edges) == (
        "janus",
        ("http://a:8088/janus", "http://b:8088/janus"),
    )
    assert env.janus_api_secret == "s3cret-never-shown"
    assert "s3cret" not in repr(env)
    # compose.yaml's defaults: empty variables mean the relay.
    empty = parse(HARMONIE_MEDIA_SERVER="", HARMONIE_JANUS_URL="", HARMONIE_JANUS_EDGES="")
    assert (empty.media_server, empty.janus_url, empty.janus_edges) == ("relay", "", ())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--media-server", "janus"], "needs the origin's API URL: --janus-url"),
        (
            ["--media-server", "janus", "--janus-url", "127.0.0.1:8088"],
            "is not an http(s) URL of Janus's HTTP API",
        ),
    ],
)
def test_an_incomplete_janus_configuration_is_refused_with_the_fix(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*argv, "--data-dir", str(tmp_path / "data")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # nothing started, nothing written


async def test_the_relay_stays_the_default(tmp_path: Path) -> None:
    app = create_app(BackendConfig(data_dir=tmp_path, run_migrations=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        config = (await client.get("/relay/config")).json()
        watch = await client.post("/watch/show")
    assert config == {"media_server": "BuiltinRelay", "viewer_flow": "whep"}
    # The relay takes viewers' offers: the server-offer flow is told where to go, not a 5xx.
    assert watch.status_code == 409 and "WHEP" in watch.text


@pytest.mark.slow
async def test_the_backend_process_configured_by_environment_streams_through_janus_edges(
    tmp_path: Path, janus
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = os.environ | {
        "HARMONIE_MEDIA_SERVER": "janus",
        "HARMONIE_JANUS_URL": janus["origin"].url,
        "HARMONIE_JANUS_EDGES": f"{janus['edge-a'].url},{janus['edge-b'].url}",
    }
    log = (tmp_path / "backend.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "backend", "--port", str(port), "--data-dir", str(data_dir),
            "--log-level", "warning",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
    publisher: WhipPublisher | None = None
    viewer: Viewer | None = None
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(300):
                assert process.poll() is None, (tmp_path / "backend.log").read_text()[-2000:]
                try:
                    config = (await client.get(f"{url}/relay/config")).json()
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert config["media_server"] == "JanusMediaServer"
            backend = JanusBackend(url=url, token=read_ingest_token(data_dir), media=None)  # type: ignore[arg-type]
            publisher = await go_live(backend, source)
            viewer = Viewer(backend)
            await viewer.player.start()
            await viewer.frames_and_tone()
            live = (await client.get(f"{url}/relay/live")).json()
            assert [(s["stream"], s["viewers"], s["viewer_flow"]) for s in live] == [
                ("show", 1, "server-offer")
            ]
    finally:
        if viewer is not None:
            await viewer.player.stop()
        if publisher is not None:
            await publisher.stop()
        source.stop()
        end(process)
        log.close()
