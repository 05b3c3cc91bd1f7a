"""Web Push (backend.web_push): the encryption against RFC 8291's worked example, and the
real go-live path pushing to a push service on loopback (tests/backend/push_service.py) that
checks VAPID and decrypts like a browser: subscriptions, 410, a restart mid-push, the rate
limit, input checks, the VAPID key, two instances on PostgreSQL."""

import asyncio
import base64
import contextlib
import json
import logging
import socket
import stat
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import http_ece
import httpx
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography.hazmat.primitives.asymmetric import ec
from eth_utils import to_checksum_address
from sqlalchemy import select

from backend import public_resolver, web_push
from backend.config import BackendConfig
from backend.models import Follow, PushOutboxRow, PushSubscription
from backend.streams import announcements
from tests.backend.conftest import create_database
from tests.backend.push_service import PushService, Subscriber, push_service, unb64url
from tests.backend.support import RunningBackend, bearer, make_profile, serve, sign_in
from tests.backend.test_mail import _go_live
from tests.support.waiting import wait_until
from tests.tips.conftest import ROOT, browser_missing

# RFC 8291, Section 5 (and Appendix A): the worked example, byte for byte.
RFC_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC_AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_UA_PUBLIC = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_SALT = "DGv6ra1nlYgDCS1FRnbzlw"
RFC_BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS"
    "6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qu"
    "lcy4a-fN"
)


def _private(b64: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(unb64url(b64), "big"), ec.SECP256R1())


def test_the_encryption_gives_rfc_8291s_example_byte_for_byte() -> None:
    body = http_ece.encrypt(
        RFC_PLAINTEXT,
        salt=unb64url(RFC_SALT),
        private_key=_private(RFC_AS_PRIVATE),
        dh=unb64url(RFC_UA_PUBLIC),
        auth_secret=unb64url(RFC_AUTH),
        version="aes128gcm",
        rs=4096,
    )
    assert body == unb64url(RFC_BODY)
    # and the browser's side: its private key and auth secret read the example back
    plain = http_ece.decrypt(
        unb64url(RFC_BODY),
        private_key=_private(RFC_UA_PRIVATE),
        auth_secret=unb64url(RFC_AUTH),
        version="aes128gcm",
    )
    assert plain == RFC_PLAINTEXT


# -- the go-live path -----------------------------------------------------------------------


@pytest.fixture
def push_config(backend_config: BackendConfig) -> BackendConfig:
    return replace(backend_config, push_allow_http_loopback=True)


@pytest.fixture
async def service() -> AsyncIterator[PushService]:
    async with push_service() as running:
        yield running


@contextlib.asynccontextmanager
async def _backend(config: BackendConfig, service: PushService) -> AsyncIterator[RunningBackend]:
    async with serve(config) as running, httpx.AsyncClient() as http:
        service.vapid_public_key = (await http.get(f"{running.url}/push/vapid-public-key")).json()[
            "public_key"
        ]
        yield running


async def _subscribed_fan(
    client: httpx.AsyncClient,
    backend: RunningBackend,
    sub: Subscriber,
    artist: str | None,
) -> dict[str, Any]:
    _, tokens = await sign_in(client, backend)
    if artist is not None:
        followed = await client.put(
            f"{backend.url}/artists/{artist}/follow", headers=bearer(tokens)
        )
        assert followed.status_code == 200, followed.text
    added = await client.post(
        f"{backend.url}/me/push-subscriptions", json=sub.subscription(), headers=bearer(tokens)
    )
    assert added.status_code == 201, added.text
    return tokens


async def _followers(backend: RunningBackend, artist: str, subscribers: list[Subscriber]) -> None:
    """Many fans at once, straight into the database: each follows `artist` from one browser."""
    assert backend.app is not None
    async with backend.app.state.services.sessions.begin() as session:
        for i, sub in enumerate(subscribers):
            address = to_checksum_address(f"0x{i + 1:040x}")
            session.add(Follow(follower=address, artist=artist))
            keys = sub.subscription()["keys"]
            session.add(
                PushSubscription(
                    address=address, endpoint=sub.endpoint, p256dh=keys["p256dh"],
                    auth=keys["auth"],
                )
            )  # fmt: skip


async def _outbox(backend: RunningBackend) -> list[PushOutboxRow]:
    assert backend.app is not None
    async with backend.app.state.services.sessions() as session:
        return list((await session.execute(select(PushOutboxRow))).scalars())


async def _settled(backend: RunningBackend) -> None:
    for _ in range(1500):
        if all(row.status not in ("pending", "sending") for row in await _outbox(backend)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the push outbox did not settle")


async def test_followers_browsers_are_pushed_that_the_artist_is_live(
    push_config: BackendConfig, service: PushService, client: httpx.AsyncClient
) -> None:
    async with _backend(push_config, service) as backend:
        artist, artist_tokens = await make_profile(client, backend, name="Nova")
        ada, ada_phone, bo, stranger, quitter = (service.subscriber() for _ in range(5))
        ada_tokens = await _subscribed_fan(client, backend, ada, artist.address)
        added = await client.post(  # a second browser of the same fan
            f"{backend.url}/me/push-subscriptions",
            json=ada_phone.subscription(),
            headers=bearer(ada_tokens),
        )
        assert added.status_code == 201
        await _subscribed_fan(client, backend, bo, artist.address)
        await _subscribed_fan(client, backend, stranger, None)  # follows nobody
        quitter_tokens = await _subscribed_fan(client, backend, quitter, artist.address)
        removed = await client.delete(
            f"{backend.url}/me/push-subscriptions",
            params={"endpoint": quitter.endpoint},
            headers=bearer(quitter_tokens),
        )
        assert removed.status_code == 204

        stream = await _go_live(client, backend, artist_tokens, "Friday session")
        # the same show announced again (the publisher reconnecting) pushes nobody twice
        await announcements.mark_live(
            backend.app, artist=artist.address, title="Friday session", stream_id=stream
        )
        await wait_until(lambda: service.delivered() >= 3, what="three pushes")
        await _settled(backend)

    assert service.errors == []
    assert {token: len(pushes) for token, pushes in service.received.items()} == {
        ada.token: 1,
        ada_phone.token: 1,
        bo.token: 1,
    }
    push = service.received[ada.token][0]
    assert push["payload"]["title"] == "Nova is live"
    assert push["payload"]["body"] == "Friday session"
    assert push["payload"]["url"].endswith(f"/fan/?stream={stream}")
    assert push["urgency"] == "high"


async def test_a_410_from_the_push_service_deletes_the_subscription(
    push_config: BackendConfig, service: PushService, client: httpx.AsyncClient
) -> None:
    async with _backend(push_config, service) as backend:
        artist, artist_tokens = await make_profile(client, backend, name="Nova")
        gone, kept = service.subscriber(), service.subscriber()
        service.answer[gone.token] = 410
        await _subscribed_fan(client, backend, gone, artist.address)
        await _subscribed_fan(client, backend, kept, artist.address)
        await _go_live(client, backend, artist_tokens, "First")
        await _settled(backend)
        assert backend.app is not None
        async with backend.app.state.services.sessions() as session:
            left = list((await session.execute(select(PushSubscription.endpoint))).scalars())
        statuses = sorted(row.status for row in await _outbox(backend))
        # the next show queues nothing for the dropped browser
        await _go_live(client, backend, artist_tokens, "Second")
        await _settled(backend)
        rows = await _outbox(backend)

    assert left == [kept.endpoint]
    assert statuses == ["gone", "sent"]
    assert len(rows) == 3
    assert len(service.received[kept.token]) == 2 and gone.token not in service.received
    assert service.errors == []


async def test_an_endpoint_that_resolves_inside_our_network_is_never_posted_to(
    backend_config: BackendConfig,
    service: PushService,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name that passed the subscription's check may resolve to an internal address when
    the push goes out (DNS rebinding): the pusher checks the addresses it connects to."""
    asked: list[str] = []

    class Rebinding(AbstractResolver):  # push.example.org -> this machine
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            asked.append(host)
            return [
                ResolveResult(hostname=host, host="127.0.0.1", port=port,
                              family=socket.AF_INET, proto=0, flags=0)
            ]  # fmt: skip

        async def close(self) -> None:
            pass

    monkeypatch.setattr(public_resolver, "DefaultResolver", Rebinding)
    async with _backend(backend_config, service) as backend:
        artist, artist_tokens = await make_profile(client, backend, name="Nova")
        fan = Subscriber(endpoint="https://push.example.org/push/abc", token="abc")
        await _subscribed_fan(client, backend, fan, artist.address)
        await _go_live(client, backend, artist_tokens, "First")
        await _settled(backend)
        rows = await _outbox(backend)
        assert backend.app is not None
        async with backend.app.state.services.sessions() as session:
            left = list((await session.execute(select(PushSubscription.endpoint))).scalars())

    assert asked == ["push.example.org"]
    assert [(row.status, row.error) for row in rows] == [
        ("failed", "not a push service: push.example.org resolves to no public address")
    ]
    assert left == [], "nothing more is queued for it"


async def test_an_idle_pusher_sleeps_until_a_row_falls_due(
    push_config: BackendConfig,
    service: PushService,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Idle, the pusher does not ask the database every second; woken for a row that is not
    due yet, it sleeps until the row is due and sends it then, with nothing waking it again."""
    looks: list[float] = []
    claim = web_push.Pusher._claim

    async def counted(self: web_push.Pusher) -> Any:
        looks.append(time.monotonic())
        return await claim(self)

    monkeypatch.setattr(web_push.Pusher, "_claim", counted)
    async with _backend(push_config, service) as backend:
        await asyncio.sleep(3.0)
        idle = len(looks)
        fan = service.subscriber()
        keys = fan.subscription()["keys"]
        assert backend.app is not None
        async with backend.app.state.services.sessions.begin() as session:
            sub = PushSubscription(
                address=to_checksum_address(f"0x{7:040x}"), endpoint=fan.endpoint,
                p256dh=keys["p256dh"], auth=keys["auth"],
            )  # fmt: skip
            session.add(sub)
            await session.flush()
            session.add(
                PushOutboxRow(
                    key="deferred", subscription_id=sub.id, ref="no-such-stream",
                    payload=json.dumps({"title": "Later"}),
                    not_before=datetime.now(UTC) + timedelta(seconds=1.5),
                )
            )  # fmt: skip
        backend.app.state.services.pusher.wake()  # as an enqueue does; the row is not due yet
        await wait_until(lambda: service.delivered() == 1, what="the deferred push")

    assert idle <= 1, f"{idle} looks at the outbox in 3 s of nothing to do"
    assert service.received[fan.token][0]["payload"] == {"title": "Later"}


async def test_a_restart_mid_push_sends_each_push_exactly_once(
    push_config: BackendConfig, service: PushService, client: httpx.AsyncClient
) -> None:
    fans = 60
    subscribers = [service.subscriber() for _ in range(fans)]
    service.hold_after = 10  # then the pushes in flight wait while the backend stops
    backend_cm = _backend(push_config, service)
    backend = await backend_cm.__aenter__()
    try:
        artist, artist_tokens = await make_profile(client, backend, name="Nova")
        assert backend.app is not None
        services = backend.app.state.services
        await _followers(backend, artist.address, subscribers)
        await _go_live(client, backend, artist_tokens, "Mid-push restart")
        await wait_until(lambda: service.held > 0, what="pushes held in flight")
        in_flight = service.held
        stopping = asyncio.create_task(backend_cm.__aexit__(None, None, None))
        await wait_until(lambda: services.pusher.stopping, what="the backend stopping")
        service.release.set()  # the pushes in flight are accepted and recorded before it ends
        await stopping
    except BaseException:
        await backend_cm.__aexit__(None, None, None)
        raise
    at_restart = service.delivered()
    assert 0 < at_restart < fans, "the restart did not happen mid-push"

    async with _backend(push_config, service) as again:
        await wait_until(lambda: service.delivered() >= fans, what="every push")
        await _settled(again)

    assert in_flight > 0
    assert service.errors == []
    assert {token: len(service.received[token]) for token in service.subscribers} == {
        sub.token: 1 for sub in subscribers
    }


async def test_a_browser_gets_at_most_the_hourly_limit_and_the_rest_waits(
    push_config: BackendConfig, service: PushService, client: httpx.AsyncClient
) -> None:
    config = replace(push_config, push_rate_per_hour=1)
    async with _backend(config, service) as backend:
        artist, artist_tokens = await make_profile(client, backend, name="Nova")
        fan = service.subscriber()
        await _subscribed_fan(client, backend, fan, artist.address)
        first = await _go_live(client, backend, artist_tokens, "One")
        await wait_until(lambda: service.delivered() == 1, what="the first push")
        second = await _go_live(client, backend, artist_tokens, "Two")
        for _ in range(500):
            rows = {row.ref: row for row in await _outbox(backend)}
            if second in rows and rows[second].attempts > 0 and rows[second].status == "pending":
                break
            await asyncio.sleep(0.02)
        rows = {row.ref: row for row in await _outbox(backend)}

    assert rows[first].status == "sent"
    assert rows[second].status == "pending"  # deferred an hour after the first, not dropped
    assert rows[second].not_before > rows[first].sent_at  # type: ignore[operator]
    assert len(service.received[fan.token]) == 1


async def test_a_subscription_is_checked_and_a_bad_one_changes_nothing(
    backend_config: BackendConfig, push_config: BackendConfig, client: httpx.AsyncClient
) -> None:
    good = Subscriber(endpoint="https://push.example.org/send/abc", token="abc").subscription()

    def variant(**changes: Any) -> dict[str, Any]:
        keys = {**good["keys"], **changes.pop("keys", {})}
        return {**good, **changes, "keys": keys}

    async with serve(backend_config) as hosted:
        _, tokens = await sign_in(client, hosted)
        url = f"{hosted.url}/me/push-subscriptions"
        unsigned = await client.post(url, json=good)
        assert unsigned.status_code == 401
        for bad, why in [
            (variant(endpoint="http://push.example.org/send/abc"), "https"),
            (variant(endpoint="http://127.0.0.1:9/push/x"), "https"),  # not on a hosted backend
            (variant(endpoint="not a url"), "push service URL"),
            (variant(endpoint="https://169.254.169.254/latest/meta-data"), "private address"),
            (variant(endpoint="https://10.1.2.3/push/x"), "private address"),
            (variant(endpoint="https://[::1]/push/x"), "private address"),
            (variant(endpoint="https://localhost/push/x"), "this machine"),
            (variant(endpoint="https://db.internal/push/x"), "private network"),
            (variant(endpoint="https://push.example.org:5432/x"), "port 443"),
            (variant(keys={"p256dh": good["keys"]["p256dh"][:-4]}), "keys.p256dh"),
            (variant(keys={"auth": "AAAA"}), "keys.auth"),
            (variant(keys={"auth": "!!not base64!!"}), "keys.auth"),
        ]:
            answer = await client.post(url, json=bad, headers=bearer(tokens))
            assert answer.status_code == 422, (bad, answer.text)
            assert why in answer.text
        assert (await client.post(url, json=good, headers=bearer(tokens))).status_code == 201
        missing = await client.delete(
            url, params={"endpoint": "https://push.example.org/other"}, headers=bearer(tokens)
        )
        assert missing.status_code == 404
        _, other = await sign_in(client, hosted)
        not_theirs = await client.delete(
            url, params={"endpoint": good["endpoint"]}, headers=bearer(other)
        )
        assert not_theirs.status_code == 404
        assert hosted.app is not None
        async with hosted.app.state.services.sessions() as session:
            stored = list((await session.execute(select(PushSubscription))).scalars())
    assert [s.endpoint for s in stored] == [good["endpoint"]]

    async with serve(push_config) as testing:  # the test/local profile takes a loopback one
        _, tokens = await sign_in(client, testing)
        loop = variant(endpoint="http://127.0.0.1:9/push/x")
        answer = await client.post(
            f"{testing.url}/me/push-subscriptions", json=loop, headers=bearer(tokens)
        )
        assert answer.status_code == 201, answer.text


async def test_the_vapid_key_is_made_once_kept_private_and_never_logged(
    backend_config: BackendConfig, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = Path(backend_config.data_dir) / web_push.KEY_FILE
    assert not path.exists()
    async with serve(backend_config) as first:
        assert path.exists()  # at first start, before anyone asked
        key = (await client.get(f"{first.url}/push/vapid-public-key")).json()["public_key"]
    async with serve(backend_config) as second:
        again = (await client.get(f"{second.url}/push/vapid-public-key")).json()["public_key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
    assert again == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_text()
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    assert "PRIVATE KEY" in pem and body
    assert body[:40] not in caplog.text


async def test_two_instances_on_postgresql_push_each_once(
    postgres_url: str,
    push_config: BackendConfig,
    service: PushService,
    client: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    database = await asyncio.to_thread(create_database, postgres_url, "push_two_instances")
    shared_key = tmp_path / "shared-vapid.pem"
    config = replace(push_config, database_url=database, vapid_key_file=shared_key)
    other = replace(config, data_dir=tmp_path / "second")
    fans = 120
    async with _backend(config, service) as first, _backend(other, service) as second:
        artist, artist_tokens = await make_profile(client, first, name="Shared")
        subscribers = [service.subscriber() for _ in range(fans)]
        assert first.app is not None and second.app is not None
        await _followers(first, artist.address, subscribers)
        await _go_live(client, first, artist_tokens, "Both of us")
        second.app.state.services.pusher.wake()
        await wait_until(lambda: service.delivered() >= fans, timeout=60, what="every push")
        await _settled(first)
        pushers = [b.app.state.services.pusher for b in (first, second)]  # type: ignore[union-attr]
    assert service.errors == []
    assert {token: len(v) for token, v in service.received.items()} == {
        sub.token: 1 for sub in subscribers
    }
    assert sum(p.sent for p in pushers) == fans


async def test_the_fan_page_button_says_plainly_when_the_push_service_is_out_of_reach(
    push_config: BackendConfig, client: httpx.AsyncClient
) -> None:
    if reason := browser_missing():
        pytest.skip(reason)
    shot = ROOT / "test-artifacts" / "fan_push.png"
    shot.parent.mkdir(exist_ok=True)
    payload = {"title": "Nova is live", "body": "Friday session", "url": "/fan/?stream=ab12",
               "tag": "live-ab12"}  # fmt: skip
    async with serve(push_config) as backend:
        artist, _ = await make_profile(client, backend, name="Nova")
        fan, tokens = await sign_in(client, backend)
        cmd = [
            "node", str(Path(__file__).with_name("fan_push_check.mjs")),
            "--page", f"{backend.url}/fan/?artist={artist.address}",
            "--token", tokens["access_token"], "--fan", fan.address,
            "--payload", json.dumps(payload), "--shot", str(shot),
        ]  # fmt: skip
        done = await asyncio.to_thread(
            subprocess.run, cmd, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        assert lines, f"no result: {done.stdout[-2000:]} {done.stderr[-2000:]}"
        result = json.loads(lines[-1][len("RESULT ") :])
        assert backend.app is not None
        async with backend.app.state.services.sessions() as session:
            stored = list((await session.execute(select(PushSubscription))).scalars())

    assert result["errors"] == [], result
    assert result["label"] == "Notify me when Nova goes live"
    assert result["status"].startswith(
        "This browser could not reach its push service, so it cannot be notified here"
    ), result["status"]
    assert stored == []  # nothing half-made is kept
    assert result["scope"] == f"{backend.url}/fan/"
    assert result.get("notifications") == [
        {"title": "Nova is live", "body": "Friday session", "tag": "live-ab12"}
    ], json.dumps(result)
    assert result["noPushErrors"] == []
    assert result["noPushHidden"] is True
    assert result["noPushStatus"].startswith(
        "This browser cannot notify you when an artist goes live"
    )
