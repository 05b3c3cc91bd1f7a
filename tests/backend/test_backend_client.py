"""studio.social.backend_client against a real backend: sign-in with a wallet signer, fresh tokens,
and subscriptions that survive a backend restart without losing or repeating anything."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend import notifications
from backend.chat import post_message
from backend.config import BackendConfig
from backend.streams import announcements
from backend.wire import ProfileIn, TrackIn
from studio.social.backend_client import (
    BackendClient,
    BackendClientError,
    CallableSigner,
    ChatEvent,
    SignInError,
    signer_for_key,
)
from tests.backend.support import DEVNET_CHAIN_ID, RunningBackend, serve, sign, upload


def _signer(account: LocalAccount) -> CallableSigner:
    async def sign_async(text: str) -> str:  # the wallet may sign asynchronously
        return sign(account, text)

    return CallableSigner(address=account.address, sign=sign_async)


@pytest.fixture
async def studio_client(backend: RunningBackend) -> AsyncIterator[BackendClient]:
    client = BackendClient(backend.url, _signer(Account.create()), chain_id=DEVNET_CHAIN_ID)
    yield client
    await client.aclose()


async def test_sign_in_profile_track_and_search(
    studio_client: BackendClient, backend: RunningBackend
) -> None:
    pair = await studio_client.sign_in()
    assert pair.address == studio_client.signer.address  # type: ignore[union-attr]
    profile = await studio_client.save_profile(
        ProfileIn(role="artist", display_name="Studio Artist")
    )
    assert profile.display_name == "Studio Artist"
    async with httpx.AsyncClient(timeout=10) as http:
        stored = await upload(http, backend, pair.model_dump(), b"first light")
    track = await studio_client.list_track(TrackIn(title="First Light", cid=stored, duration_s=180))
    assert track.artist_name == "Studio Artist"
    found = await studio_client.search("first")
    assert [t.id for t in found.tracks.items] == [track.id]
    assert await studio_client.profile(Account.create().address) is None


async def test_a_wallet_key_signs_in_through_the_adapter(backend: RunningBackend) -> None:
    from chain.wallet import UnlockedKey

    key = UnlockedKey(Account.create())
    client = BackendClient(backend.url, signer_for_key(key), chain_id=DEVNET_CHAIN_ID)
    assert (await client.sign_in()).address == key.address
    await client.aclose()
    plain = BackendClient(backend.url, signer_for_key(Account.create()), chain_id=DEVNET_CHAIN_ID)
    assert (await plain.sign_in()).address == plain.signer.address  # type: ignore[union-attr]
    await plain.aclose()


async def test_refused_sign_in_is_a_clear_error(backend: RunningBackend) -> None:
    wrong_chain = BackendClient(backend.url, _signer(Account.create()), chain_id=56)
    with pytest.raises(SignInError, match="chain id 56"):
        await wrong_chain.sign_in()
    await wrong_chain.aclose()
    walletless = BackendClient(backend.url, None, chain_id=DEVNET_CHAIN_ID)
    with pytest.raises(SignInError, match="wallet"):
        await walletless.access_token()
    await walletless.aclose()
    unreachable = BackendClient("http://127.0.0.1:9", None, chain_id=1)
    with pytest.raises(BackendClientError, match="cannot be reached"):
        await unreachable.search("x")
    await unreachable.aclose()


async def test_tokens_are_refreshed_before_they_expire(backend: RunningBackend) -> None:
    now = [1_000_000.0]
    client = BackendClient(
        backend.url, _signer(Account.create()), chain_id=DEVNET_CHAIN_ID, clock=lambda: now[0]
    )
    first = await client.access_token()
    assert await client.access_token() == first  # still fresh: no new token
    now[0] += backend.config.access_token_ttl_s  # (client-side clock) about to expire
    second = await client.access_token()
    assert second != first
    assert (await client.request("GET", "/auth/me")).json()["address"] == client.address
    await client.aclose()


async def test_server_side_expiry_is_recovered(backend_config: BackendConfig) -> None:
    async with serve(replace(backend_config, access_token_ttl_s=1)) as backend:
        client = BackendClient(backend.url, _signer(Account.create()), chain_id=DEVNET_CHAIN_ID)
        await client.access_token()
        await asyncio.sleep(2.1)  # the token is now expired on the server
        me = await client.request("GET", "/auth/me")
        assert me.json()["address"] == client.address
        await client.aclose()


async def _collect(source: AsyncIterator[Any], into: list[Any]) -> None:
    async for item in source:
        into.append(item)


async def _until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_chat_and_alerts_resume_across_a_backend_restart_without_duplicates(
    backend_config: BackendConfig,
) -> None:
    config = replace(backend_config, chat_burst=100, chat_rate_per_s=100)
    artist = Account.create()
    async with serve(config) as backend:
        port = int(backend.url.rsplit(":", 1)[1])
        client = BackendClient(backend.url, _signer(artist), chain_id=DEVNET_CHAIN_ID)
        await client.save_profile(ProfileIn(role="artist", display_name="Restart"))
        stream = await announcements.mark_live(
            backend.app, artist=artist.address, title="Resilient"
        )
        fan = Account.create().address
        await post_message(backend.app, stream.id, fan, "m1")

        chat = client.chat(stream.id)
        alerts = client.notifications()
        chat_events: list[ChatEvent] = []
        alert_events: list[Any] = []
        chat_task = asyncio.create_task(_collect(chat, chat_events))

        def said() -> int:  # messages only: a history also says the chat's slow mode
            return sum(1 for e in chat_events if e.message)

        alerts_task = asyncio.create_task(_collect(alerts, alert_events))
        await _until(lambda: said() == 1 and alerts.connected.is_set())
        await post_message(backend.app, stream.id, fan, "m2")
        await notifications.publish(
            backend.app, recipient=artist.address, kind="tip_received", data={"n": 1}
        )
        await _until(lambda: said() == 2 and len(alert_events) == 1)

    # The backend is gone; things happen while the client is away; it comes back on the port.
    async with serve(config, port=port) as backend:
        await post_message(backend.app, stream.id, fan, "m3")
        await notifications.publish(
            backend.app, recipient=artist.address, kind="tip_received", data={"n": 2}
        )
        await _until(lambda: said() == 3 and len(alert_events) == 2)
        await _until(lambda: chat.connected.is_set() and alerts.connected.is_set())
        await post_message(backend.app, stream.id, fan, "m4")
        await notifications.publish(
            backend.app, recipient=artist.address, kind="tip_received", data={"n": 3}
        )
        await _until(lambda: said() == 4 and len(alert_events) == 3)
        # Sent through the subscription itself, after the reconnect.
        await chat.say("from the studio", client_id="studio-1")
        await _until(lambda: said() == 5)

        await asyncio.sleep(0.3)  # anything duplicated would have arrived by now
        assert [e.message.text for e in chat_events if e.message] == [
            "m1",
            "m2",
            "m3",
            "m4",
            "from the studio",
        ]
        assert [n.data["n"] for n in alert_events] == [1, 2, 3]
        assert chat.reconnects >= 1 and alerts.reconnects >= 1
        await chat.close()
        await alerts.close()
        chat_task.cancel()
        alerts_task.cancel()
        await asyncio.gather(chat_task, alerts_task, return_exceptions=True)
        await client.aclose()


async def test_alert_list_and_read_marker(
    backend: RunningBackend, studio_client: BackendClient
) -> None:
    await studio_client.sign_in()
    address = studio_client.address
    assert address is not None
    ids = [
        (
            await notifications.publish(
                backend.app, recipient=address, kind="tip_received", data={"i": i}
            )
        ).id
        for i in range(3)
    ]
    page = await studio_client.notifications_page(limit=2)
    assert [n.id for n in page.items] == [ids[2], ids[1]] and page.next_cursor == ids[1]
    older = await studio_client.notifications_page(before=page.next_cursor)
    assert [n.id for n in older.items] == [ids[0]]
    assert await studio_client.mark_read(ids[1]) == ids[1]
    assert [n.read for n in (await studio_client.notifications_page()).items] == [False, True, True]
    with pytest.raises(BackendClientError) as refused:
        await studio_client.mark_read(-1)
    assert refused.value.status == 422 and "up_to" in str(refused.value)
