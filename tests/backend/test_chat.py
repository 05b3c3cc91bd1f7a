"""Chat over WebSocket: history, anonymous readers, signed-in writers, moderation, limits."""

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from websockets.asyncio.client import connect

from backend.config import BackendConfig
from backend.models import ChatMute
from backend.services import services_of
from backend.streams import announcements as live
from tests.backend.support import RunningBackend, bearer, make_profile, next_frame, serve, sign_in


async def _live_stream(client: httpx.AsyncClient, backend: RunningBackend):  # type: ignore[no-untyped-def]
    artist, tokens = await make_profile(client, backend, name="Nova")
    stream = await live.mark_live(backend.app, artist=artist.address, title="Friday session")
    return artist, tokens, stream


def _chat_url(backend: RunningBackend, stream_id: str, after: int | None = None) -> str:
    url = f"{backend.ws_url}/streams/{stream_id}/chat/ws"
    return url if after is None else f"{url}?after={after}"


async def test_messages_reach_every_reader_with_history_on_join(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _, _, stream = await _live_stream(client, backend)
    fan, fan_tokens = await make_profile(client, backend, role="fan", name="Fan One")
    async with (
        connect(_chat_url(backend, stream.id)) as reader,
        connect(_chat_url(backend, stream.id)) as writer,
    ):
        assert (await next_frame(reader))["messages"] == []
        assert (await next_frame(writer, "history"))["messages"] == []
        await writer.send(json.dumps({"type": "auth", "token": fan_tokens["access_token"]}))
        assert (await next_frame(writer))["address"] == fan.address
        hostile = "<script>alert('x')</script> & hi"
        await writer.send(json.dumps({"type": "send", "text": hostile}))
        got = (await next_frame(reader, "message"))["message"]
        assert got["text"] == hostile  # stored and sent as text; rendering escapes it
        assert got["sender"] == fan.address and got["sender_name"] == "Fan One"
        assert (await next_frame(writer, "message"))["message"]["id"] == got["id"]
        metrics = (await client.get(f"{backend.url}/metrics")).text
        assert 'harmonie_websocket_clients{kind="chat"} 2' in metrics
        assert "harmonie_chat_messages_total 1" in metrics

    # A late joiner gets the history; REST sees the same.
    async with connect(_chat_url(backend, stream.id)) as late:
        history = (await next_frame(late))["messages"]
        assert [m["text"] for m in history] == [hostile]
    page = (await client.get(f"{backend.url}/streams/{stream.id}/chat")).json()
    assert [m["id"] for m in page["items"]] == [got["id"]]


async def test_anonymous_readers_cannot_write(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _, _, stream = await _live_stream(client, backend)
    async with connect(_chat_url(backend, stream.id)) as anonymous:
        await next_frame(anonymous, "history")
        await anonymous.send(json.dumps({"type": "send", "text": "hello"}))
        assert (await next_frame(anonymous))["code"] == "unauthorized"
        await anonymous.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        assert (await next_frame(anonymous))["code"] == "unauthorized"
        await anonymous.send("not json")
        assert (await next_frame(anonymous))["code"] == "bad_frame"
        await anonymous.send(json.dumps({"type": "send", "text": "x" * 501}))
        assert (await next_frame(anonymous))["code"] == "bad_frame"
        await anonymous.send(b"\x00binary")
        assert (await next_frame(anonymous))["code"] == "bad_frame"
    rest = await client.post(f"{backend.url}/streams/{stream.id}/chat", json={"text": "hi"})
    assert rest.status_code == 401


async def test_unknown_stream_is_refused(backend: RunningBackend) -> None:
    async with connect(_chat_url(backend, "nosuchstream")) as ws:
        assert (await next_frame(ws))["code"] == "not_found"
        await ws.wait_closed()
        assert ws.close_code == 4404


async def test_artist_deletes_and_mutes_others_cannot(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, artist_tokens, stream = await _live_stream(client, backend)
    fan, fan_tokens = await sign_in(client, backend)
    troll, troll_tokens = await sign_in(client, backend)
    base = f"{backend.url}/streams/{stream.id}"
    sent = await client.post(f"{base}/chat", json={"text": "nice set"}, headers=bearer(fan_tokens))
    assert sent.status_code == 201
    message_id = sent.json()["id"]

    async with connect(_chat_url(backend, stream.id)) as reader:
        await next_frame(reader, "history")
        # Someone else's chat: refused over HTTP and over the socket.
        assert (
            await client.delete(f"{base}/chat/{message_id}", headers=bearer(troll_tokens))
        ).status_code == 403
        assert (
            await client.put(f"{base}/mutes/{fan.address}", headers=bearer(troll_tokens))
        ).status_code == 403
        async with connect(_chat_url(backend, stream.id)) as troll_ws:
            await next_frame(troll_ws, "history")
            await troll_ws.send(json.dumps({"type": "auth", "token": troll_tokens["access_token"]}))
            await next_frame(troll_ws, "authed")
            await troll_ws.send(json.dumps({"type": "delete", "id": message_id}))
            assert (await next_frame(troll_ws, "error"))["code"] == "forbidden"

        deleted = await client.delete(f"{base}/chat/{message_id}", headers=bearer(artist_tokens))
        assert deleted.status_code == 204
        assert (await next_frame(reader, "deleted"))["id"] == message_id
        muted = await client.put(f"{base}/mutes/{troll.address}", headers=bearer(artist_tokens))
        assert muted.json() == {
            "artist": artist.address,
            "address": troll.address,
            "muted": True,
            "until": None,
        }
        assert (await next_frame(reader, "muted"))["address"] == troll.address

    assert (await client.get(f"{base}/chat")).json()["items"] == []
    silenced = await client.post(
        f"{base}/chat", json={"text": "spam"}, headers=bearer(troll_tokens)
    )
    assert silenced.status_code == 403
    await client.delete(f"{base}/mutes/{troll.address}", headers=bearer(artist_tokens))
    assert (
        await client.post(f"{base}/chat", json={"text": "sorry"}, headers=bearer(troll_tokens))
    ).status_code == 201
    assert (
        await client.delete(f"{base}/chat/{message_id}", headers=bearer(artist_tokens))
    ).status_code == 404


async def test_per_address_rate_limit(backend: RunningBackend, client: httpx.AsyncClient) -> None:
    _, _, stream = await _live_stream(client, backend)
    _, tokens = await sign_in(client, backend)
    _, other_tokens = await sign_in(client, backend)
    url = f"{backend.url}/streams/{stream.id}/chat"
    statuses = [
        (await client.post(url, json={"text": f"m{i}"}, headers=bearer(tokens))).status_code
        for i in range(backend.config.chat_burst + 3)
    ]
    assert statuses[: backend.config.chat_burst] == [201] * backend.config.chat_burst
    assert 429 in statuses[backend.config.chat_burst :]
    # Another address is not affected.
    assert (
        await client.post(url, json={"text": "me too"}, headers=bearer(other_tokens))
    ).status_code == 201


async def test_resume_after_id_and_client_id_never_duplicates(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _, _, stream = await _live_stream(client, backend)
    _, tokens = await sign_in(client, backend)
    url = f"{backend.url}/streams/{stream.id}/chat"
    ids = [
        (
            await client.post(
                url, json={"text": f"m{i}", "client_id": f"c{i}"}, headers=bearer(tokens)
            )
        ).json()["id"]
        for i in range(4)
    ]
    resent = await client.post(url, json={"text": "m1", "client_id": "c1"}, headers=bearer(tokens))
    assert resent.json()["id"] == ids[1]
    async with connect(_chat_url(backend, stream.id, after=ids[1])) as ws:
        assert [m["id"] for m in (await next_frame(ws))["messages"]] == ids[2:]


async def test_ended_stream_is_read_only(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _, _, stream = await _live_stream(client, backend)
    _, tokens = await sign_in(client, backend)
    async with connect(_chat_url(backend, stream.id)) as ws:
        await next_frame(ws, "history")
        await live.mark_ended(backend.app, stream.id)
        assert (await next_frame(ws, "stream_ended"))["stream_id"] == stream.id
    after = await client.post(
        f"{backend.url}/streams/{stream.id}/chat", json={"text": "hi"}, headers=bearer(tokens)
    )
    assert after.status_code == 409


@pytest.fixture
def small_history_config(backend_config: BackendConfig) -> BackendConfig:
    return replace(backend_config, chat_history=3, chat_burst=100, chat_rate_per_s=100)


async def test_history_is_the_last_n_messages(
    small_history_config: BackendConfig, client: httpx.AsyncClient
) -> None:
    async with serve(small_history_config) as backend:
        _, _, stream = await _live_stream(client, backend)
        _, tokens = await sign_in(client, backend)
        for i in range(6):
            await client.post(
                f"{backend.url}/streams/{stream.id}/chat",
                json={"text": f"m{i}"},
                headers=bearer(tokens),
            )
        async with connect(_chat_url(backend, stream.id)) as ws:
            assert [m["text"] for m in (await next_frame(ws))["messages"]] == ["m3", "m4", "m5"]
        metrics = (await client.get(f"{backend.url}/metrics")).text
        assert "harmonie_chat_messages_total 6" in metrics
        await asyncio.sleep(0)


async def test_a_frame_flood_is_cut_off(backend: RunningBackend, client: httpx.AsyncClient) -> None:
    _, _, stream = await _live_stream(client, backend)
    async with connect(_chat_url(backend, stream.id)) as ws:
        await next_frame(ws, "history")
        for _ in range(60):
            await ws.send(json.dumps({"type": "ping"}))
        assert (await next_frame(ws, "error"))["code"] == "flood"
        await ws.wait_closed()
        assert ws.close_code == 1008


async def test_sockets_per_client_are_capped(
    backend_config: BackendConfig, client: httpx.AsyncClient
) -> None:
    async with serve(replace(backend_config, ws_max_per_client=2)) as backend:
        _, _, stream = await _live_stream(client, backend)
        async with (
            connect(_chat_url(backend, stream.id)) as one,
            connect(_chat_url(backend, stream.id)) as two,
        ):
            await next_frame(one, "history")
            await next_frame(two, "history")
            async with connect(_chat_url(backend, stream.id)) as three:
                assert (await next_frame(three))["code"] == "too_many_sockets"
                await three.wait_closed()
                assert three.close_code == 1013
        # Closed sockets free their places (once the server has finished with them).
        for _ in range(50):
            async with connect(_chat_url(backend, stream.id)) as again:
                if (await next_frame(again))["type"] == "history":
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("closed sockets never freed their places")


async def _authed_socket(ws, tokens) -> None:  # type: ignore[no-untyped-def]
    await next_frame(ws, "history")
    await ws.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))
    await next_frame(ws, "authed")


async def test_moderators_time_out_and_set_rules_fans_cannot(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, artist_tokens, stream = await _live_stream(client, backend)
    mod, mod_tokens = await sign_in(client, backend)
    fan, fan_tokens = await sign_in(client, backend)
    base = f"{backend.url}/streams/{stream.id}"

    def post(tokens, text: str) -> object:  # type: ignore[no-untyped-def]
        return client.post(f"{base}/chat", json={"text": text}, headers=bearer(tokens))

    # Before being named, a moderator is a fan like any other.
    assert (
        await client.put(
            f"{base}/timeouts/{fan.address}", json={"seconds": 60}, headers=bearer(mod_tokens)
        )
    ).status_code == 403
    assert (
        await client.put(f"{base}/moderators/{fan.address}", headers=bearer(mod_tokens))
    ).status_code == 403
    named = await client.put(f"{base}/moderators/{mod.address}", headers=bearer(artist_tokens))
    assert named.json() == {"artist": artist.address, "address": mod.address, "moderator": True}

    # Time-out: refused while it lasts, with when it ends; allowed again once it has passed.
    timed = await client.put(
        f"{base}/timeouts/{fan.address}", json={"seconds": 600}, headers=bearer(mod_tokens)
    )
    assert timed.status_code == 200 and timed.json()["until"] is not None
    refused = await post(fan_tokens, "let me talk")
    assert refused.status_code == 403 and "timed out" in refused.json()["detail"]
    async with services_of(backend.app).sessions.begin() as session:
        row = await session.get(ChatMute, (artist.address, fan.address))
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert (await post(fan_tokens, "back again")).status_code == 201
    # A moderator cannot silence the artist, nor (unlike the artist) another moderator.
    assert (
        await client.put(f"{base}/mutes/{artist.address}", headers=bearer(mod_tokens))
    ).status_code == 409
    mod2, _ = await sign_in(client, backend)
    await client.put(f"{base}/moderators/{mod2.address}", headers=bearer(artist_tokens))
    assert (
        await client.put(f"{base}/mutes/{mod2.address}", headers=bearer(mod_tokens))
    ).status_code == 403

    # Rules: fans may neither read nor change them; a moderator may.
    assert (
        await client.get(f"{base}/moderation/settings", headers=bearer(fan_tokens))
    ).status_code == 403
    assert (
        await client.patch(
            f"{base}/moderation/settings", json={"slow_mode_s": 0}, headers=bearer(fan_tokens)
        )
    ).status_code == 403
    changed = await client.patch(
        f"{base}/moderation/settings",
        json={"slow_mode_s": 0, "blocked_words": ["Spoiler", "spoiler", "bad word"]},
        headers=bearer(mod_tokens),
    )
    assert changed.json() == {
        "artist": artist.address,
        "slow_mode_s": 0,
        "blocked_words": ["Spoiler", "bad word"],
    }
    blocked = await post(fan_tokens, "big SPOILER ahead")
    assert blocked.status_code == 403 and blocked.json()["detail"].startswith("your message")
    assert (await post(fan_tokens, "what a bad WORD")).status_code == 403
    assert (await post(fan_tokens, "what a BAD  WORD")).status_code == 201  # not the phrase

    # Only the given fields change.
    await client.patch(
        f"{base}/moderation/settings", json={"slow_mode_s": 30}, headers=bearer(mod_tokens)
    )
    settings = (
        await client.get(f"{base}/moderation/settings", headers=bearer(artist_tokens))
    ).json()
    assert settings["slow_mode_s"] == 30 and settings["blocked_words"] == ["Spoiler", "bad word"]
    # The fan's last message was just now: slow mode refuses the next.
    slowed = await post(fan_tokens, "spoilers are fine, whole words only")
    assert slowed.status_code == 429 and "slow mode" in slowed.json()["detail"]
    # The artist and moderators are held to neither rule.
    assert (await post(mod_tokens, "one spoiler")).status_code == 201
    assert (await post(mod_tokens, "two")).status_code == 201
    assert (await post(artist_tokens, "three")).status_code == 201

    async with connect(_chat_url(backend, stream.id)) as reader:
        assert (await next_frame(reader, "history"))["slow_mode_s"] == 30
        await client.patch(
            f"{base}/moderation/settings", json={"slow_mode_s": 0}, headers=bearer(artist_tokens)
        )
        # Fans learn the slow mode, never the blocked words.
        assert await next_frame(reader, "settings") == {"type": "settings", "slow_mode_s": 0}
    allowed = await post(fan_tokens, "spoilers are fine, whole words only")
    assert allowed.status_code == 201

    # Removing a moderator takes the power away.
    await client.delete(f"{base}/moderators/{mod.address}", headers=bearer(artist_tokens))
    assert (
        await client.delete(f"{base}/chat/{allowed.json()['id']}", headers=bearer(mod_tokens))
    ).status_code == 403


async def test_fans_report_a_message_once_and_moderators_see_it(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _, artist_tokens, stream = await _live_stream(client, backend)
    troll, troll_tokens = await sign_in(client, backend)
    fan, fan_tokens = await sign_in(client, backend)
    base = f"{backend.url}/streams/{stream.id}"
    mod, mod_tokens = await sign_in(client, backend)
    await client.put(f"{base}/moderators/{mod.address}", headers=bearer(artist_tokens))
    message = (
        await client.post(f"{base}/chat", json={"text": "rude"}, headers=bearer(troll_tokens))
    ).json()

    first = await client.post(
        f"{base}/chat/{message['id']}/report", json={"reason": "insult"}, headers=bearer(fan_tokens)
    )
    assert first.status_code == 201
    assert first.json()["reporter"] == fan.address and first.json()["reason"] == "insult"
    async with connect(_chat_url(backend, stream.id)) as fan_ws:
        await _authed_socket(fan_ws, fan_tokens)
        await fan_ws.send(json.dumps({"type": "report", "id": message["id"]}))
        assert (await next_frame(fan_ws, "reported"))["id"] == message["id"]
    assert (
        await client.post(
            f"{base}/chat/{message['id']}/report", json={}, headers=bearer(troll_tokens)
        )
    ).status_code == 409  # one's own message
    assert (
        await client.post(f"{base}/chat/999999/report", json={}, headers=bearer(fan_tokens))
    ).status_code == 404

    reports = (await client.get(f"{base}/moderation/reports", headers=bearer(mod_tokens))).json()
    assert [r["id"] for r in reports["items"]] == [first.json()["id"]]  # once, not twice
    assert (
        await client.get(f"{base}/moderation/reports", headers=bearer(fan_tokens))
    ).status_code == 403
    for tokens in (artist_tokens, mod_tokens):
        inbox = (await client.get(f"{backend.url}/notifications", headers=bearer(tokens))).json()[
            "items"
        ]
        reported = [n for n in inbox if n["kind"] == "chat_report"]
        assert len(reported) == 1
        assert reported[0]["data"]["text"] == "rude" and reported[0]["data"]["sender"] == (
            troll.address
        )


async def test_moderation_over_the_socket(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _, artist_tokens, stream = await _live_stream(client, backend)
    fan, fan_tokens = await sign_in(client, backend)
    base = f"{backend.url}/streams/{stream.id}"
    async with (
        connect(_chat_url(backend, stream.id)) as artist_ws,
        connect(_chat_url(backend, stream.id)) as fan_ws,
    ):
        await _authed_socket(artist_ws, artist_tokens)
        await _authed_socket(fan_ws, fan_tokens)
        await fan_ws.send(json.dumps({"type": "settings", "slow_mode_s": 5}))
        assert (await next_frame(fan_ws, "error"))["code"] == "forbidden"
        await artist_ws.send(
            json.dumps({"type": "settings", "slow_mode_s": 5, "blocked_words": ["boo"]})
        )
        assert (await next_frame(fan_ws, "settings"))["slow_mode_s"] == 5
        await fan_ws.send(json.dumps({"type": "send", "text": "boo!"}))
        assert (await next_frame(fan_ws, "error"))["code"] == "blocked_word"
        await artist_ws.send(
            json.dumps({"type": "timeout", "address": fan.address, "seconds": 120})
        )
        muted = await next_frame(fan_ws, "muted")
        assert muted["address"] == fan.address and muted["until"] is not None
        await fan_ws.send(json.dumps({"type": "send", "text": "hello"}))
        assert (await next_frame(fan_ws, "error"))["code"] == "muted"
        await artist_ws.send(json.dumps({"type": "unmute", "address": fan.address}))
        await next_frame(fan_ws, "unmuted")
    assert (
        await client.post(f"{base}/chat", json={"text": "hello"}, headers=bearer(fan_tokens))
    ).status_code == 201
