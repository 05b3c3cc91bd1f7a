"""Going live from the studio announces the show: the relay stream, the chat room and the live
list are one stream id; the artist's ChatRoom follows fans' messages, deletes and mutes; the
end takes the show off the live list. Without sign-in the show goes on unannounced."""

import asyncio
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from backend.streams.keys import read_ingest_token
from backend.wire import ProfileIn
from chain.networks import Network
from chain.wallet import Wallet
from studio.live.session import LiveOptions, LiveSession
from studio.social.backend_client import BackendClient, BackendClientError, CallableSigner
from studio.social.chat_room import ChatRoom, ChatRoomError
from studio.social.stream_announcer import StreamAnnouncer
from studio.wallet.session import WalletSession
from tests.studio_chat.conftest import CHAIN_ID, Backend, key_signer, wait_until

PASSWORD = "a long enough password"


def small_show(url: str, token: str | None, title: str = "Friday session") -> LiveOptions:
    return LiveOptions(
        width=160, height=120, fps=15, video_bitrate=150_000, keyframe_interval_s=1.0,
        whip_url=f"{url}/whip/live", whip_token=token, title=title,
    )  # fmt: skip


async def end_show(session: LiveSession, room: ChatRoom, url: str) -> None:
    """End the show: its chat closes and it leaves the live list."""
    await session.stop()
    await wait_until(lambda: room.state == "ended", what="the chat to close")
    assert await live_ids(url) == []


async def close_all(session, announcer, client, wallet) -> None:  # type: ignore[no-untyped-def]
    await session.stop()
    await announcer.aclose()
    await client.aclose()
    await wallet.close()


async def live_ids(url: str) -> list[str]:
    async with httpx.AsyncClient(timeout=10) as http:
        page = (await http.get(f"{url}/live")).json()
    return [item["id"] for item in page["items"]]


async def relay_streams(url: str) -> list[str]:
    async with httpx.AsyncClient(timeout=10) as http:
        return [s["stream"] for s in (await http.get(f"{url}/relay/live")).json()]


async def test_announced_show_publishes_to_its_id_and_its_chat_follows_it(
    backend: Backend, clients
) -> None:  # type: ignore[no-untyped-def]
    artist = await clients("artist", "Ada")
    fan = await clients("fan", "Bo")
    ingest = read_ingest_token(backend.data_dir)
    session = LiveSession()
    announcer = StreamAnnouncer(artist, session)
    room = ChatRoom(artist)
    room.follow(announcer)
    assert room.state == "off air" and "Not live" in room.status_text

    await session.start(small_show(backend.url, ingest))
    try:
        stream = room.stream
        assert stream is not None and stream.title == "Friday session"
        assert stream.artist_address == artist.address
        assert session.options is not None
        assert session.options.whip_url == f"{backend.url}/whip/{stream.id}"
        assert session.options.whip_token not in (None, ingest)  # the artist's access token
        assert any("Announced" in m for m in session.messages)
        assert await live_ids(backend.url) == [stream.id]

        # The relay accepted the access token for the announced id: one stream everywhere.
        await wait_until(lambda: session.publish_state == "live", what="publishing")
        assert await relay_streams(backend.url) == [stream.id]

        await wait_until(lambda: room.state == "open", what="the chat to open")
        sent = await fan.send_chat(stream.id, "<b>first</b> & <i>hello</i>")
        await wait_until(lambda: sent.id in room.messages, what="the fan's message")
        assert room.messages[sent.id].text == "<b>first</b> & <i>hello</i>"
        assert room.messages[sent.id].sender_name == "Bo"
        mine = await room.send("  thanks\nfor coming  ")
        assert mine.text == "thanks for coming" and mine.id in room.messages

        deleted: list[int] = []
        room.message_deleted.connect(deleted.append)
        await room.delete(sent.id)
        assert sent.id not in room.messages and deleted == [sent.id]
        async with httpx.AsyncClient(timeout=10) as http:
            history = (await http.get(f"{backend.url}/streams/{stream.id}/chat")).json()
        assert [m["id"] for m in history["items"]] == [mine.id]

        await room.mute(fan.address)
        assert fan.address in room.muted
        with pytest.raises(BackendClientError, match="banned"):
            await fan.send_chat(stream.id, "still here?")
        with pytest.raises(ChatRoomError, match="at most 500"):
            await room.send("x" * 501)
    finally:
        await session.stop()
    await wait_until(lambda: room.state == "ended", what="the chat to close")
    await announcer.aclose()
    assert announcer.stream is None
    assert await live_ids(backend.url) == []
    async with httpx.AsyncClient(timeout=10) as http:
        ended = (await http.get(f"{backend.url}/streams/{stream.id}")).json()
    assert ended["ended_at"] is not None
    with pytest.raises(ChatRoomError, match="opens when you go live"):
        await room.send("after the show")


async def test_a_fan_profile_goes_live_unannounced_and_says_why(backend: Backend, clients) -> None:  # type: ignore[no-untyped-def]
    not_an_artist = await clients("fan", "Cy")
    session = LiveSession()
    announcer = StreamAnnouncer(not_an_artist, session)
    room = ChatRoom(not_an_artist)
    room.follow(announcer)
    ingest = read_ingest_token(backend.data_dir)
    options = small_show(backend.url, ingest)
    options.record_path = None
    await session.start(options)
    try:
        assert session.state == "live"
        assert session.options is not None
        assert (session.options.whip_url, session.options.whip_token) == (
            f"{backend.url}/whip/live",
            ingest,
        )
        said = " ".join(session.messages)
        assert "did not announce" in said and "only artists can go live" in said
        assert room.state == "unavailable" and "only artists" in room.status_text
        assert await live_ids(backend.url) == []
    finally:
        await session.stop()
        await announcer.aclose()


async def test_record_only_shows_are_not_announced(
    backend: Backend, clients, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    artist = await clients("artist", "Ada")
    session = LiveSession()
    announcer = StreamAnnouncer(artist, session)
    options = LiveOptions(width=160, height=120, fps=15, record_path=tmp_path / "show.mkv")
    await session.start(options)
    try:
        assert announcer.stream is None
        assert await live_ids(backend.url) == []
    finally:
        await session.stop()
        await announcer.aclose()


async def test_locked_wallet_goes_live_on_the_ingest_token_then_unlocked_announces(
    backend: Backend, clients, vault, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    network = Network(key="local", name="Test", chain_id=CHAIN_ID, rpc_url="http://127.0.0.1:9")
    wallet = WalletSession(Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.sqlite3")
    key = Account.create().key.hex()
    address = await wallet.import_private_key(key, PASSWORD)
    wallet.lock()  # an import unlocks (the artist just typed the password): lock it again
    assert not wallet.unlocked
    client = BackendClient(
        backend.url, CallableSigner(address=address, sign=wallet.sign_text), chain_id=CHAIN_ID
    )
    session = LiveSession()
    announcer = StreamAnnouncer(client, session)
    room = ChatRoom(client)
    room.follow(announcer)
    ingest = read_ingest_token(backend.data_dir)
    try:
        await session.start(small_show(backend.url, ingest))
        assert session.options is not None
        assert session.options.whip_url == f"{backend.url}/whip/live"
        assert session.options.whip_token == ingest
        assert any("wallet is locked" in m and "without announcing" in m for m in session.messages)
        assert room.state == "unavailable" and "unlock" in room.status_text
        await wait_until(lambda: session.publish_state == "live", what="today's publishing")
        assert await relay_streams(backend.url) == ["live"]
        assert await live_ids(backend.url) == []
        await session.stop()
        await wait_until(lambda: session.publish_state != "live", what="the end")

        await wallet.unlock(PASSWORD)
        await client.save_profile(ProfileIn(role="artist", display_name="Dee"))
        await session.start(small_show(backend.url, ingest, title="Second try"))
        stream = announcer.stream
        assert stream is not None and stream.artist_address == address
        assert await live_ids(backend.url) == [stream.id]
        await wait_until(lambda: room.state == "open", what="the chat to open")
        await end_show(session, room, backend.url)
    finally:
        await close_all(session, announcer, client, wallet)


async def test_external_ingest_keeps_its_url_and_the_announcer_ends_the_stream(
    backend: Backend, clients
) -> None:  # type: ignore[no-untyped-def]
    artist = await clients("artist", "Ada")
    session = LiveSession()
    announcer = StreamAnnouncer(artist, session)
    room = ChatRoom(artist)
    room.follow(announcer)
    external = "http://127.0.0.1:9/whip/elsewhere"  # nothing listens: publishing fails
    options = LiveOptions(
        width=160, height=120, fps=15, whip_url=external, whip_token="cdn-key", title="Away"
    )
    await session.start(options)
    try:
        stream = announcer.stream
        assert stream is not None and await live_ids(backend.url) == [stream.id]
        assert session.options is not None
        assert (session.options.whip_url, session.options.whip_token) == (external, "cdn-key")
        await wait_until(lambda: session.publish_state == "failed", what="the refusal")
        assert session.state == "live" and announcer.stream is not None
    finally:
        await session.stop()
    await wait_until(lambda: room.state == "ended", what="the announcer to end the stream")
    assert await live_ids(backend.url) == []
    await announcer.aclose()
    assert session.options_resolver is None


async def test_after_an_account_switch_the_show_goes_out_under_the_new_account(
    backend: Backend, clients
) -> None:  # type: ignore[no-untyped-def]
    first = await clients("artist", "First")
    second_key = Account.create()
    second = BackendClient(backend.url, key_signer(second_key), chain_id=CHAIN_ID)
    try:
        await second.save_profile(ProfileIn(role="artist", display_name="Second"))
    finally:
        await second.aclose()
    first.signer = key_signer(second_key)  # what Studio does when the wallet's account changes
    session = LiveSession()
    announcer = StreamAnnouncer(first, session)
    options = LiveOptions(width=160, height=120, fps=15, whip_url="http://127.0.0.1:9/whip/x")
    await session.start(options)
    try:
        assert announcer.stream is not None
        assert announcer.stream.artist_address == second_key.address
        assert announcer.stream.title == "Live now"  # no title given
        assert first.address == second_key.address
    finally:
        await session.stop()
        await announcer.aclose()


async def test_unlocking_mid_show_announces_it_on_its_own_stream_even_after_a_hiccup(
    backend: Backend, vault, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    network = Network(key="local", name="Test", chain_id=CHAIN_ID, rpc_url="http://127.0.0.1:9")
    wallet = WalletSession(Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.sqlite3")
    address = await wallet.import_private_key(Account.create().key.hex(), PASSWORD)
    wallet.lock()  # an import unlocks (the artist just typed the password): lock it again
    wallet.select(address)
    client = BackendClient(
        backend.url, CallableSigner(address=address, sign=wallet.sign_text), chain_id=CHAIN_ID
    )
    session = LiveSession()
    announcer = StreamAnnouncer(client, session, wallet)
    room = ChatRoom(client)
    room.follow(announcer)
    real_go_live, calls = client.go_live, []

    async def artist_profile(_address: str) -> None:  # as the studio does after sign-in
        await client.ensure_profile(ProfileIn(role="artist", display_name="Lee"))

    client.after_sign_in = artist_profile

    async def go_live_after_a_hiccup(title: str):  # type: ignore[no-untyped-def]
        calls.append(title)
        if len(calls) == 1:  # the backend drops the first try (a reset connection)
            raise BackendClientError(f"The backend at {backend.url} cannot be reached (ReadError).")
        return await real_go_live(title)

    client.go_live = go_live_after_a_hiccup  # type: ignore[method-assign]
    ingest = read_ingest_token(backend.data_dir)
    try:
        await session.start(small_show(backend.url, ingest, title="Late news"))
        await wait_until(lambda: session.publish_state == "live", what="publishing unannounced")
        assert announcer.stream is None and await live_ids(backend.url) == []
        assert announcer.fan_page_url() == f"{backend.url}/fan/?stream=live"

        await wallet.unlock(PASSWORD)  # mid-show
        await wait_until(lambda: announcer.stream is not None, what="the late announcement")
        stream = announcer.stream
        assert calls == ["Late news", "Late news"]
        assert await live_ids(backend.url) == [stream.id]
        assert announcer.fan_page_url() == f"{backend.url}/fan/?stream={stream.id}"
        await wait_until(lambda: room.state == "open", what="the chat to open")
        await wait_until(
            lambda: (
                session.options.whip_url == f"{backend.url}/whip/{stream.id}"
                and session.publish_state == "live"
            ),
            what="publishing to the announced stream",
        )
        for _ in range(200):  # the relay carries the show under its announced id now
            if await relay_streams(backend.url) == [stream.id]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the relay carries {await relay_streams(backend.url)}")
        assert session.state == "live"  # the show went on
        await end_show(session, room, backend.url)
    finally:
        await close_all(session, announcer, client, wallet)
