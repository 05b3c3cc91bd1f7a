"""The composition root wires the announcer and the chat room: a Studio on a real backend with
its wallet in a private keyring goes live unannounced while the wallet is locked, announced
once unlocked, and quitting the studio ends the announced stream on the backend."""

from pathlib import Path

import httpx
import pytest
from eth_account import Account

from backend.streams.keys import read_ingest_token
from backend.wire import ProfileIn
from chain.wallet import Wallet
from studio.core import Studio
from studio.live.session import LiveOptions
from studio.profiles import ChainConfig, Profile
from studio.settings import Settings
from tests.studio_chat.conftest import CHAIN_ID, Backend, wait_until

PASSWORD = "a long enough password"


async def test_studio_announces_with_the_unlocked_wallet_and_ends_on_quit(
    backend: Backend, vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import chain.wallet

    keyring_wallet = Wallet(vault, scrypt_n=2**12)
    monkeypatch.setattr(chain.wallet, "Wallet", lambda: keyring_wallet)
    address = keyring_wallet.import_private_key(Account.create().key.hex(), PASSWORD)
    profile = Profile(
        name="custom",
        backend_url=backend.url,
        chain=ChainConfig(name="Nowhere", chain_id=CHAIN_ID, rpc_url="http://127.0.0.1:9"),
        ipfs_api_url="",
    )
    studio = Studio(profile, Settings(tmp_path / "settings.toml"), tmp_path / "data", tmp_path)
    await studio.start_services()
    live, room = studio.live, studio.chat_room
    assert live is not None and room is not None and studio.announcer is not None
    assert studio.wallet is not None and studio.wallet.address == address
    options = LiveOptions(
        width=160, height=120, fps=15, video_bitrate=150_000,
        whip_url=studio.default_whip_url(), whip_token=read_ingest_token(backend.data_dir),
        title="Wired",
    )  # fmt: skip
    try:
        await live.start(options)
        assert any("wallet is locked" in m for m in live.messages)
        assert room.state == "unavailable"
        assert live.options is not None and live.options.whip_url == f"{backend.url}/whip/live"
        await live.stop()

        await studio.wallet.unlock(PASSWORD)
        assert studio.backend_client is not None
        await studio.backend_client.save_profile(ProfileIn(role="artist", display_name="Wire"))
        await live.start(options)
        stream = studio.announcer.stream
        assert stream is not None and stream.artist_address == address
        assert live.options is not None
        assert live.options.whip_url == f"{backend.url}/whip/{stream.id}"
        await wait_until(lambda: room.state == "open", what="the chat to open")
    finally:
        await studio.stop_services()
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{backend.url}/live")).json()["items"] == []
        ended = (await http.get(f"{backend.url}/streams/{stream.id}")).json()
    assert ended["ended_at"] is not None
    assert room.state == "ended"


async def test_journeys_put_the_chat_dock_in_the_window(
    qtbot, backend: Backend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from widgets.journeys import Journeys
    from widgets.main_window import MainWindow
    from widgets.social.chat_dock import ChatDock

    profile = Profile(
        name="custom",
        backend_url=backend.url,
        chain=ChainConfig(name="Nowhere", chain_id=CHAIN_ID, rpc_url="http://127.0.0.1:9"),
        ipfs_api_url="",
    )
    studio = Studio(profile, Settings(tmp_path / "settings.toml"), tmp_path / "data", tmp_path)
    await studio.start_services()
    try:
        window = MainWindow(studio)
        qtbot.addWidget(window)
        journeys = Journeys(window, None, studio)
        journeys.install()
        dock = window.docks["chat"].widget()
        assert isinstance(dock, ChatDock) and dock.room is studio.chat_room
        assert dock.state_label.text().startswith("Not live")
    finally:
        await studio.stop_services()
