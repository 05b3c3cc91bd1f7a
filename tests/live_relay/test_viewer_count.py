"""The studio's viewer count (studio.live.viewers) against the real relay's live list: one
HTTP client for a show's questions, not a new one (and SSL context) a second."""

import httpx
import pytest

from media.whep import WhepPlayer
from media.whip import WhipPublisher
from studio.live import viewers
from studio.live.viewers import ViewerCounter, fetch_viewer_count
from tests.live_relay.packet_source import EncodedTestSource

pytestmark = pytest.mark.slow


async def test_a_show_asks_for_its_viewers_over_one_client(
    relay_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    built: list[httpx.AsyncClient] = []
    real_client = httpx.AsyncClient

    def counting_client(*args, **kwargs) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
        client = real_client(*args, **kwargs)
        built.append(client)
        return client

    source = EncodedTestSource(width=160, height=120, fps=15)
    source.start()
    whip_url = f"{relay_server.url}/whip/counted"
    publisher = WhipPublisher(whip_url, relay_server.token, [source.audio, source.video])
    player = WhepPlayer(f"{relay_server.url}/whep/counted")
    counter = ViewerCounter()
    try:
        await publisher.start()
        assert await fetch_viewer_count(whip_url) == 0
        await player.start()
        monkeypatch.setattr(viewers.httpx, "AsyncClient", counting_client)
        assert [await counter.count(whip_url) for _ in range(5)] == [1] * 5
        assert len(built) == 1  # one client for every question of the show
        assert await counter.count(f"{relay_server.url}/whip/nobody") == 0
        assert len(built) == 1
        await counter.aclose()
        assert built[0].is_closed
        assert await counter.count(whip_url) == 1  # a next show: a new client
        assert len(built) == 2
        assert await fetch_viewer_count(whip_url) == 1  # alone, it still works
    finally:
        await counter.aclose()
        await player.stop()
        await publisher.stop()
        source.stop()


async def test_no_viewer_count_from_an_ingest_without_a_relay_or_one_that_is_down() -> None:
    counter = ViewerCounter()
    assert await counter.count("https://cdn.example.net/ingest") is None
    assert await counter.count("http://127.0.0.1:9/whip/show") is None  # nothing listens
    await counter.aclose()
