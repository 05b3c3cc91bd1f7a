"""Two backend instances on one PostgreSQL and one Redis: what reaches one reaches the other."""

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect

from backend import notifications
from backend.config import BackendConfig
from tests.backend.conftest import JWT_SECRET
from tests.backend.support import (
    RunningBackend,
    bearer,
    make_profile,
    next_frame,
    serve,
    serve_process,
    sign_in,
    upload,
)

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def two_instances(
    postgres_url: str, redis_url: str, tmp_path
) -> AsyncIterator[tuple[RunningBackend, RunningBackend]]:  # type: ignore[no-untyped-def]
    """Instance A in this process (so the test can call internal APIs such as
    notifications.publish on it); instance B as its own `python -m backend` process."""
    config = BackendConfig(
        database_url=postgres_url,
        redis_url=redis_url,
        data_dir=tmp_path,
        jwt_secret=JWT_SECRET,  # shared, as behind one load balancer
    )
    async with contextlib.AsyncExitStack() as stack:
        # Started together: the migration lock makes one wait for the other.
        first, second = await asyncio.gather(
            stack.enter_async_context(serve(config)),
            stack.enter_async_context(serve_process(config, tmp_path / "instance-b.log")),
        )
        yield first, second


async def test_chat_and_notifications_cross_instances(
    postgres_url: str, redis_url: str, tmp_path, client: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    async with two_instances(postgres_url, redis_url, tmp_path) as (a, b):
        for instance in (a, b):
            health = (await client.get(f"{instance.url}/health")).json()
            assert health["components"]["database"] == {"status": "ok", "dialect": "postgresql"}
            assert health["components"]["redis"]["status"] == "ok"
            assert health["status"] == "ok"

        artist, artist_tokens = await make_profile(client, a, name=f"Nova {secrets.token_hex(3)}")
        fan, fan_tokens = await make_profile(client, b, role="fan", name="Fan on B")
        stream = (
            await client.post(
                f"{a.url}/streams", json={"title": "Two rooms"}, headers=bearer(artist_tokens)
            )
        ).json()

        # Readers on B, writer on A.
        async with (
            connect(f"{b.ws_url}/streams/{stream['id']}/chat/ws") as reader_b,
            connect(f"{b.ws_url}/notifications/ws") as fan_alerts_b,
            connect(f"{b.ws_url}/notifications/ws") as artist_alerts_b,
            connect(f"{a.ws_url}/streams/{stream['id']}/chat/ws") as writer_a,
        ):
            await next_frame(reader_b, "history")
            for socket, tokens in ((fan_alerts_b, fan_tokens), (artist_alerts_b, artist_tokens)):
                await socket.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))
                await next_frame(socket, "backlog")
            await next_frame(writer_a, "history")
            await writer_a.send(json.dumps({"type": "auth", "token": fan_tokens["access_token"]}))
            await next_frame(writer_a, "authed")
            await writer_a.send(
                json.dumps({"type": "send", "text": "hello from A", "client_id": "a1"})
            )
            message = (await next_frame(reader_b, "message"))["message"]
            assert message["text"] == "hello from A" and message["sender"] == fan.address

            # A notification published on A reaches the client connected to B.
            tip = await notifications.publish(
                a.app, recipient=fan.address, kind="tip_received", data={"amount_wei": "5"}
            )
            assert (await next_frame(fan_alerts_b, "notification"))["notification"]["id"] == tip.id
            # And an HTTP action on A (follow) notifies the artist's socket on B.
            await client.put(f"{a.url}/artists/{artist.address}/follow", headers=bearer(fan_tokens))
            followed = (await next_frame(artist_alerts_b, "notification"))["notification"]
            assert (
                followed["kind"] == "new_follower" and followed["data"]["follower"] == fan.address
            )

            # Moderation on B reaches readers on A.
            await client.delete(
                f"{b.url}/streams/{stream['id']}/chat/{message['id']}",
                headers=bearer(artist_tokens),
            )
            assert (await next_frame(writer_a, "deleted"))["id"] == message["id"]

        # Stored, not just relayed: a reader joining B later resumes from the database.
        await client.post(
            f"{a.url}/streams/{stream['id']}/chat",
            json={"text": "after"},
            headers=bearer(fan_tokens),
        )
        async with connect(
            f"{b.ws_url}/streams/{stream['id']}/chat/ws?after={message['id']}"
        ) as late:
            assert [m["text"] for m in (await next_frame(late))["messages"]] == ["after"]

        # Full-text search on PostgreSQL.
        title = f"Aurora {secrets.token_hex(4)}"
        await client.post(
            f"{a.url}/tracks",
            json={
                "title": title,
                "cid": await upload(client, a, artist_tokens, title.encode()),
                "duration_s": 60,
            },
            headers=bearer(artist_tokens),
        )
        found = (
            await client.get(f"{b.url}/search/tracks", params={"q": title.lower()[:12]})
        ).json()
        assert [t["title"] for t in found["items"]] == [title]


async def test_rate_limit_is_shared_across_instances(
    postgres_url: str, redis_url: str, tmp_path, client: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    async with two_instances(postgres_url, redis_url, tmp_path) as (a, b):
        _, artist_tokens = await make_profile(client, a, name="Limits")
        stream = (
            await client.post(
                f"{a.url}/streams", json={"title": "limits"}, headers=bearer(artist_tokens)
            )
        ).json()
        _, fan_tokens = await make_profile(client, b, role="fan", name="Chatty")
        burst = a.config.chat_burst
        statuses = []
        for i in range(burst + 2):
            instance = (a, b)[i % 2]  # spread over both instances
            response = await client.post(
                f"{instance.url}/streams/{stream['id']}/chat",
                json={"text": f"m{i}"},
                headers=bearer(fan_tokens),
            )
            statuses.append(response.status_code)
        assert statuses[:burst] == [201] * burst
        assert statuses[burst:] == [429, 429]


async def test_chat_moderation_holds_across_instances(
    postgres_url: str, redis_url: str, tmp_path, client: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    """Moderators act on one instance; readers and writers on the other see it and are held
    to it (the rules live in the shared database, the events travel over Redis)."""
    async with two_instances(postgres_url, redis_url, tmp_path) as (a, b):
        _, artist_tokens = await make_profile(client, a, name=f"Mod {secrets.token_hex(3)}")
        mod, mod_tokens = await sign_in(client, b)
        fan, fan_tokens = await sign_in(client, a)
        _, witness_tokens = await sign_in(client, b)
        stream = (
            await client.post(
                f"{a.url}/streams", json={"title": "moderated"}, headers=bearer(artist_tokens)
            )
        ).json()
        on_a, on_b = f"{a.url}/streams/{stream['id']}", f"{b.url}/streams/{stream['id']}"
        named = await client.put(f"{on_a}/moderators/{mod.address}", headers=bearer(artist_tokens))
        assert named.status_code == 200

        async with (
            connect(f"{a.ws_url}/streams/{stream['id']}/chat/ws") as fan_a,
            connect(f"{b.ws_url}/streams/{stream['id']}/chat/ws") as mod_b,
            connect(f"{b.ws_url}/streams/{stream['id']}/chat/ws") as reader_b,
            connect(f"{a.ws_url}/notifications/ws") as artist_alerts_a,
        ):
            for socket, tokens in ((fan_a, fan_tokens), (mod_b, mod_tokens)):
                await next_frame(socket, "history")
                await socket.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))
                await next_frame(socket, "authed")
            await next_frame(reader_b, "history")
            await artist_alerts_a.send(
                json.dumps({"type": "auth", "token": artist_tokens["access_token"]})
            )
            await next_frame(artist_alerts_a, "backlog")

            await fan_a.send(json.dumps({"type": "send", "text": "rude words", "client_id": "r"}))
            rude = (await next_frame(reader_b, "message"))["message"]

            # Reported on B; the artist's alerts socket on A hears of it.
            reported = await client.post(
                f"{on_b}/chat/{rude['id']}/report",
                json={"reason": "rude"},
                headers=bearer(witness_tokens),
            )
            assert reported.status_code == 201
            alert = (await next_frame(artist_alerts_a, "notification"))["notification"]
            assert alert["kind"] == "chat_report" and alert["data"]["message_id"] == rude["id"]

            # Deleted by the moderator on B: gone on A's socket and from A's history.
            await mod_b.send(json.dumps({"type": "delete", "id": rude["id"]}))
            assert (await next_frame(fan_a, "deleted"))["id"] == rude["id"]
            assert (await next_frame(reader_b, "deleted"))["id"] == rude["id"]
            assert (await client.get(f"{on_a}/chat")).json()["items"] == []

            # Slow mode and a blocked word set on B hold for a writer on A.
            await mod_b.send(
                json.dumps({"type": "settings", "slow_mode_s": 600, "blocked_words": ["rude"]})
            )
            assert (await next_frame(fan_a, "settings"))["slow_mode_s"] == 600
            blocked = await client.post(
                f"{on_a}/chat", json={"text": "so RUDE"}, headers=bearer(fan_tokens)
            )
            assert blocked.status_code == 403
            slowed = await client.post(
                f"{on_a}/chat", json={"text": "hello again"}, headers=bearer(fan_tokens)
            )
            assert slowed.status_code == 429 and "slow mode" in slowed.json()["detail"]

            # Timed out on B: refused on A, and every reader is told.
            timed = await client.put(
                f"{on_b}/timeouts/{fan.address}",
                json={"seconds": 300},
                headers=bearer(mod_tokens),
            )
            assert timed.status_code == 200
            assert (await next_frame(fan_a, "muted"))["address"] == fan.address
            await fan_a.send(json.dumps({"type": "send", "text": "let me in"}))
            assert (await next_frame(fan_a, "error"))["code"] == "muted"

            # Banned on A after the time-out is lifted on B: a ban has no end.
            await client.delete(f"{on_b}/mutes/{fan.address}", headers=bearer(mod_tokens))
            assert (await next_frame(reader_b, "unmuted"))["address"] == fan.address
            banned = await client.put(f"{on_a}/mutes/{fan.address}", headers=bearer(artist_tokens))
            assert banned.json()["until"] is None
            assert (await next_frame(reader_b, "muted"))["until"] is None
            refused = await client.post(
                f"{on_b}/chat", json={"text": "hi"}, headers=bearer(fan_tokens)
            )
            assert refused.status_code == 403 and "banned" in refused.json()["detail"]
