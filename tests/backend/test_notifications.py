"""Notifications: the internal publish function, the per-user socket, the list and read markers."""

import json

import httpx
import pytest
from eth_account import Account
from websockets.asyncio.client import connect

from backend import notifications
from backend.streams import announcements
from tests.backend.support import RunningBackend, bearer, make_profile, next_frame, sign_in


async def _socket(backend: RunningBackend, tokens: dict, after: int = 0):  # type: ignore[no-untyped-def, type-arg]
    ws = await connect(f"{backend.ws_url}/notifications/ws?after={after}")
    await ws.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))
    assert (await next_frame(ws))["type"] == "authed"
    return ws


async def test_published_notifications_stream_live_and_list_with_read_markers(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, tokens = await make_profile(client, backend, name="Nova")
    ws = await _socket(backend, tokens)
    try:
        assert (await next_frame(ws))["notifications"] == []  # backlog
        tip = await notifications.publish(
            backend.app,
            recipient=artist.address.lower(),
            kind="tip_received",
            data={"from": "0xabc", "amount_wei": "1000", "tx": "0x01"},
        )
        live_frame = (await next_frame(ws, "notification"))["notification"]
        assert live_frame["id"] == tip.id and live_frame["kind"] == "tip_received"
        assert live_frame["data"]["amount_wei"] == "1000" and live_frame["read"] is False
    finally:
        await ws.close()

    second = await notifications.publish(
        backend.app, recipient=artist.address, kind="tip_received", data={"n": 2}
    )
    listed = (await client.get(f"{backend.url}/notifications", headers=bearer(tokens))).json()
    assert [n["id"] for n in listed["items"]] == [second.id, tip.id]  # newest first
    assert listed["last_read_id"] == 0
    unread = (
        await client.get(f"{backend.url}/notifications/unread", headers=bearer(tokens))
    ).json()
    assert unread["unread"] == 2

    marked = await client.post(
        f"{backend.url}/notifications/read", json={"up_to": tip.id}, headers=bearer(tokens)
    )
    assert marked.json() == {"last_read_id": tip.id}
    # The marker never moves back.
    await client.post(
        f"{backend.url}/notifications/read", json={"up_to": 0}, headers=bearer(tokens)
    )
    listed = (await client.get(f"{backend.url}/notifications", headers=bearer(tokens))).json()
    assert listed["last_read_id"] == tip.id
    assert [(n["id"], n["read"]) for n in listed["items"]] == [(second.id, False), (tip.id, True)]
    only_unread = (
        await client.get(
            f"{backend.url}/notifications", params={"unread": True}, headers=bearer(tokens)
        )
    ).json()
    assert [n["id"] for n in only_unread["items"]] == [second.id]

    # Resume: a socket opened with after=<first id> gets only what came later, as backlog.
    ws = await _socket(backend, tokens, after=tip.id)
    try:
        assert [n["id"] for n in (await next_frame(ws))["notifications"]] == [second.id]
    finally:
        await ws.close()

    # Someone else sees none of it.
    _, other_tokens = await sign_in(client, backend)
    assert (await client.get(f"{backend.url}/notifications", headers=bearer(other_tokens))).json()[
        "items"
    ] == []
    assert (await client.get(f"{backend.url}/notifications")).status_code == 401


async def test_pagination_by_cursor(backend: RunningBackend, client: httpx.AsyncClient) -> None:
    account, tokens = await sign_in(client, backend)
    ids = [
        (
            await notifications.publish(
                backend.app, recipient=account.address, kind="tip_received", data={"i": i}
            )
        ).id
        for i in range(5)
    ]
    page = (
        await client.get(
            f"{backend.url}/notifications", params={"limit": 2}, headers=bearer(tokens)
        )
    ).json()
    assert [n["id"] for n in page["items"]] == ids[:-3:-1]
    page2 = (
        await client.get(
            f"{backend.url}/notifications",
            params={"limit": 2, "before": page["next_cursor"]},
            headers=bearer(tokens),
        )
    ).json()
    assert [n["id"] for n in page2["items"]] == [ids[2], ids[1]]
    oldest_first = (
        await client.get(
            f"{backend.url}/notifications", params={"after": ids[2]}, headers=bearer(tokens)
        )
    ).json()
    assert [n["id"] for n in oldest_first["items"]] == ids[3:] and oldest_first[
        "next_cursor"
    ] is None


async def test_follow_stream_start_and_mention_notify(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, artist_tokens = await make_profile(client, backend, name="Nova")
    fan, fan_tokens = await make_profile(client, backend, role="fan", name="Fan One")
    artist_ws = await _socket(backend, artist_tokens)
    fan_ws = await _socket(backend, fan_tokens)
    try:
        await next_frame(artist_ws, "backlog")
        await next_frame(fan_ws, "backlog")
        await client.put(
            f"{backend.url}/artists/{artist.address}/follow", headers=bearer(fan_tokens)
        )
        followed = (await next_frame(artist_ws, "notification"))["notification"]
        assert followed["kind"] == "new_follower"
        assert (
            followed["data"]["follower"] == fan.address
            and followed["data"]["follower_name"] == "Fan One"
        )

        stream = await announcements.mark_live(
            backend.app, artist=artist.address, title="Late show"
        )
        started = (await next_frame(fan_ws, "notification"))["notification"]
        assert started["kind"] == "stream_started"
        assert started["data"] == {
            "stream_id": stream.id,
            "artist": artist.address,
            "artist_name": "Nova",
            "title": "Late show",
        }

        await client.post(
            f"{backend.url}/streams/{stream.id}/chat",
            json={"text": f"hey @{artist.address.lower()} play the hit"},
            headers=bearer(fan_tokens),
        )
        mention = (await next_frame(artist_ws, "notification"))["notification"]
        assert mention["kind"] == "chat_mention" and mention["data"]["sender"] == fan.address
    finally:
        await artist_ws.close()
        await fan_ws.close()


async def test_socket_requires_auth_first(backend: RunningBackend) -> None:
    async with connect(f"{backend.ws_url}/notifications/ws") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_frame(ws))["code"] == "unauthorized"
        await ws.wait_closed()
        assert ws.close_code == 4401


async def test_publish_refuses_unknown_kinds_and_unserialisable_data(
    backend: RunningBackend,
) -> None:
    address = Account.create().address
    with pytest.raises(ValueError, match="unknown notification kind"):
        await notifications.publish(backend.app, recipient=address, kind="bogus", data={})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await notifications.publish(
            backend.app, recipient=address, kind="tip_received", data={"x": object()}
        )
    with pytest.raises(ValueError):
        await notifications.publish(backend.app, recipient="nope", kind="tip_received", data={})
