"""Email notifications against a real SMTP server (aiosmtpd on loopback): preferences, the
go-live and new-release mails, one-click unsubscribe (RFC 8058), the warning window, an SMTP
outage, bounces and the per-recipient rate limit."""

import asyncio
import ipaddress
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_utils import to_checksum_address
from sqlalchemy import select

from backend import mail
from backend.config import BackendConfig
from backend.models import Follow, MailOutboxRow, MailPrefs, NotificationRow
from backend.streams import announcements
from harness.smtp_inbox import Inbox, smtp_server
from tests.backend.conftest import create_database, free_port
from tests.backend.support import RunningBackend, bearer, make_profile, serve, sign_in, upload
from tests.support.waiting import wait_until


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mail_config(backend_config: BackendConfig, smtp_port: int) -> BackendConfig:
    return replace(
        backend_config,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_security="none",
        golive_mail_delay_s=0,
        mail_retry_max_s=0.5,
        mail_from="HarmonieCORE <alerts@harmonie.example>",
    )


@pytest.fixture
async def mail_backend(mail_config: BackendConfig) -> AsyncIterator[RunningBackend]:
    async with serve(mail_config) as running:
        yield running


async def _fan(
    client: httpx.AsyncClient, backend: RunningBackend, artist: str, email: str, **prefs: Any
) -> dict[str, Any]:
    _, tokens = await sign_in(client, backend)
    answer = await client.patch(
        f"{backend.url}/me/notifications", json={"email": email, **prefs}, headers=bearer(tokens)
    )
    assert answer.status_code == 200, answer.text
    followed = await client.put(f"{backend.url}/artists/{artist}/follow", headers=bearer(tokens))
    assert followed.status_code == 200
    return tokens


async def _go_live(
    client: httpx.AsyncClient, backend: RunningBackend, tokens: dict[str, Any], title: str
) -> str:
    answer = await client.post(
        f"{backend.url}/streams", json={"title": title}, headers=bearer(tokens)
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def _outbox(backend: RunningBackend) -> list[MailOutboxRow]:
    assert backend.app is not None
    async with backend.app.state.services.sessions() as session:
        return list((await session.execute(select(MailOutboxRow))).scalars())


async def _settled(backend: RunningBackend) -> bool:
    return all(row.status not in ("pending", "sending") for row in await _outbox(backend))


async def test_followers_get_one_go_live_mail_with_a_working_one_click_unsubscribe(
    mail_backend: RunningBackend, smtp_port: int, client: httpx.AsyncClient
) -> None:
    inbox = Inbox()
    with smtp_server(inbox, smtp_port):
        artist, artist_tokens = await make_profile(client, mail_backend, name="Nova")
        await _fan(client, mail_backend, artist.address, "ada@fans.example")
        await _fan(client, mail_backend, artist.address, "bo@fans.example", live=False)
        stream = await _go_live(client, mail_backend, artist_tokens, "Friday session")
        # the same show announced again (the studio's publisher reconnecting) mails nobody twice
        await announcements.mark_live(
            mail_backend.app, artist=artist.address, title="Friday session", stream_id=stream
        )
        await wait_until(lambda: inbox.counts()["ada@fans.example"] >= 1, what="the go-live mail")
        while not await _settled(mail_backend):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a repeat would have been sent by now from the same batch

    assert inbox.counts() == {"ada@fans.example": 1}  # bo asked for no go-live mails
    (mail,) = inbox.to("ada@fans.example")
    assert mail["Subject"] == "Nova is live: Friday session"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert stream in mail.get_content()
    link = re.fullmatch(r"<(.+)>", mail["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    assert link in mail.get_content()

    page = await client.get(link)
    assert page.status_code == 200 and "<form" in page.text  # a GET changes nothing
    forged = await client.post(link[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"})
    assert forged.status_code == 400
    done = await client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "no more" in done.text

    fan_prefs = [row for row in await _outbox(mail_backend)]
    assert len(fan_prefs) == 1
    ada = fan_prefs[0].recipient
    inbox2 = Inbox()
    with smtp_server(inbox2, smtp_port):
        await _go_live(client, mail_backend, artist_tokens, "Saturday session")
        while not await _settled(mail_backend):
            await asyncio.sleep(0.05)
    assert inbox2.counts() == {}
    rows = [row for row in await _outbox(mail_backend) if row.recipient == ada]
    assert sorted(row.status for row in rows) == ["sent"]  # unsubscribed: nothing queued


async def test_preferences_refuse_a_bad_address_and_keep_the_old_one(
    mail_backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _, tokens = await sign_in(client, mail_backend)
    url = f"{mail_backend.url}/me/notifications"
    first = await client.patch(url, json={"email": "cy@fans.example"}, headers=bearer(tokens))
    assert first.json() == {
        "email": "cy@fans.example", "live": True, "releases": True, "digest": "off",
        "bounces": 0, "email_enabled": True,
    }  # fmt: skip
    bad = await client.patch(url, json={"email": "not an address"}, headers=bearer(tokens))
    assert bad.status_code == 422 and "email address" in bad.text
    assert (await client.get(url, headers=bearer(tokens))).json()["email"] == "cy@fans.example"
    assert (await client.patch(url, json={"releases": False})).status_code == 401


async def test_a_show_that_ends_inside_the_warning_window_mails_nobody(
    mail_config: BackendConfig, smtp_port: int, client: httpx.AsyncClient
) -> None:
    inbox = Inbox()
    async with serve(replace(mail_config, golive_mail_delay_s=1.0)) as backend:
        with smtp_server(inbox, smtp_port):
            artist, artist_tokens = await make_profile(client, backend, name="Brief")
            await _fan(client, backend, artist.address, "di@fans.example")
            stream = await _go_live(client, backend, artist_tokens, "Sound check")
            ended = await client.post(
                f"{backend.url}/streams/{stream}/end", headers=bearer(artist_tokens)
            )
            assert ended.status_code == 200
            while not await _settled(backend):
                await asyncio.sleep(0.05)
            (row,) = await _outbox(backend)
    assert (row.status, row.error) == ("cancelled", "the show ended")
    assert inbox.counts() == {}


async def test_an_smtp_outage_delays_mail_and_loses_none(
    mail_backend: RunningBackend, smtp_port: int, client: httpx.AsyncClient
) -> None:
    artist, artist_tokens = await make_profile(client, mail_backend, name="Steady")
    emails = [f"fan{i}@fans.example" for i in range(5)]
    for email in emails:
        await _fan(client, mail_backend, artist.address, email)
    await _go_live(client, mail_backend, artist_tokens, "Through the storm")

    async def tried() -> bool:
        rows = await _outbox(mail_backend)
        return len(rows) == 5 and all(r.attempts >= 2 and r.status == "pending" for r in rows)

    while not await tried():  # the server is down: every mail was tried, none given up
        await asyncio.sleep(0.05)
    inbox = Inbox()
    with smtp_server(inbox, smtp_port):
        await wait_until(lambda: len(inbox.counts()) == 5, what="mail after the outage")
        while not await _settled(mail_backend):
            await asyncio.sleep(0.05)
    assert inbox.counts() == dict.fromkeys(emails, 1)


async def test_a_refused_recipient_counts_a_bounce_and_the_others_get_theirs(
    mail_backend: RunningBackend, smtp_port: int, client: httpx.AsyncClient
) -> None:
    inbox = Inbox(refuse={"gone@fans.example"})
    with smtp_server(inbox, smtp_port):
        artist, artist_tokens = await make_profile(client, mail_backend, name="Echo")
        gone = await _fan(client, mail_backend, artist.address, "gone@fans.example")
        await _fan(client, mail_backend, artist.address, "here@fans.example")
        await _go_live(client, mail_backend, artist_tokens, "Live")
        while not await _settled(mail_backend):
            await asyncio.sleep(0.05)
    assert inbox.counts() == {"here@fans.example": 1}
    prefs = await client.get(f"{mail_backend.url}/me/notifications", headers=bearer(gone))
    assert prefs.json()["bounces"] == 1
    statuses = sorted(row.status for row in await _outbox(mail_backend))
    assert statuses == ["bounced", "sent"]


async def test_one_address_gets_at_most_the_hourly_limit_and_the_rest_waits(
    mail_config: BackendConfig, smtp_port: int, client: httpx.AsyncClient
) -> None:
    inbox = Inbox()
    async with serve(replace(mail_config, mail_rate_per_hour=2)) as backend:
        with smtp_server(inbox, smtp_port):
            artist, artist_tokens = await make_profile(client, backend, name="Prolific")
            await _fan(client, backend, artist.address, "eve@fans.example")
            for show in range(3):
                await _go_live(client, backend, artist_tokens, f"Show {show}")
                wanted = min(show + 1, 2)
                await wait_until(lambda n=wanted: sum(inbox.counts().values()) >= n, what="a mail")

            async def third_waits() -> bool:
                rows = await _outbox(backend)
                return (
                    len(rows) == 3
                    and [r.status for r in rows].count("sent") == 2
                    and any(r.status == "pending" and r.attempts >= 1 for r in rows)
                )

            while not await third_waits():
                await asyncio.sleep(0.05)
    assert inbox.counts() == {"eve@fans.example": 2}
    (waiting,) = [r for r in await _outbox(backend) if r.status == "pending"]
    sent_at = min(r.sent_at for r in await _outbox(backend) if r.sent_at)
    assert waiting.not_before >= sent_at.replace(microsecond=0)  # the next hour, not now


async def test_a_new_release_mails_the_followers_who_want_releases(
    mail_backend: RunningBackend, smtp_port: int, client: httpx.AsyncClient
) -> None:
    inbox = Inbox()
    with smtp_server(inbox, smtp_port):
        artist, artist_tokens = await make_profile(client, mail_backend, name="Nova")
        await _fan(client, mail_backend, artist.address, "fa@fans.example")
        await _fan(client, mail_backend, artist.address, "gu@fans.example", releases=False)
        cid = await upload(client, mail_backend, artist_tokens, b"OggS" + b"\0" * 200)
        listed = await client.post(
            f"{mail_backend.url}/tracks",
            json={"title": "Blue Hour", "cid": cid, "duration_s": 180.0},
            headers=bearer(artist_tokens),
        )
        assert listed.status_code == 201, listed.text
        await wait_until(lambda: inbox.counts() == {"fa@fans.example": 1}, what="release mail")
    (mail,) = inbox.to("fa@fans.example")
    assert mail["Subject"] == "New from Nova: Blue Hour"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files): the SMTP server's, and the CA the
    backend is told to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_mail_goes_over_starttls_with_the_configured_login(
    mail_config: BackendConfig, smtp_port: int, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bool]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        accepted = (data.login, data.password) == (b"harmonie", b"Mail-Pass-0451")
        logins.append((data.login, accepted))
        return AuthResult(success=accepted)

    server = {
        "tls_context": tls,
        "require_starttls": True,
        "auth_required": True,
        "auth_require_tls": True,
        "authenticator": authenticator,
    }
    secured = replace(
        mail_config,
        smtp_security="starttls",
        smtp_username="harmonie",
        smtp_ca_file=cert,
        smtp_password="wrong-password",
    )
    inbox = Inbox()
    with smtp_server(inbox, smtp_port, **server):
        async with serve(secured) as backend:
            artist, artist_tokens = await make_profile(client, backend, name="Vault")
            await _fan(client, backend, artist.address, "ha@fans.example")
            await _go_live(client, backend, artist_tokens, "Locked in")

            async def refused_and_kept() -> bool:
                rows = await _outbox(backend)
                return len(rows) == 1 and rows[0].status == "pending" and rows[0].attempts >= 1

            while not await refused_and_kept():  # a wrong password loses nothing
                await asyncio.sleep(0.05)
        assert inbox.counts() == {} and logins and not any(ok for _, ok in logins)

        async with serve(replace(secured, smtp_password="Mail-Pass-0451")) as backend:
            await wait_until(lambda: inbox.counts() == {"ha@fans.example": 1}, what="the mail")
    assert (b"harmonie", True) in logins


async def test_an_artist_gets_one_daily_digest_of_yesterdays_tips(
    mail_backend: RunningBackend, smtp_port: int, client: httpx.AsyncClient
) -> None:
    assert mail_backend.app is not None
    services = mail_backend.app.state.services
    artist, tokens = await make_profile(client, mail_backend, name="Earner")
    answer = await client.patch(
        f"{mail_backend.url}/me/notifications",
        json={"email": "earner@artists.example", "digest": "daily"},
        headers=bearer(tokens),
    )
    assert answer.json()["digest"] == "daily"
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    fan_a, fan_b = "0x" + "a" * 40, "0x" + "b" * 40
    tips = [  # (when, artist the tip was for, fan, wei)
        (yesterday, artist.address, fan_a, 10**18),
        (yesterday, artist.address, fan_b, 5 * 10**17),
        (yesterday, "0x" + "c" * 40, fan_a, 7 * 10**18),  # a tip to an artist they follow
        (now, artist.address, fan_b, 3 * 10**18),  # today: tomorrow's digest
    ]
    async with services.sessions.begin() as session:
        for when, tipped, fan, wei in tips:
            session.add(
                NotificationRow(
                    recipient=artist.address,
                    kind="tip_received",
                    data={"artist": tipped, "fan": fan, "amount_wei": str(wei)},
                    created_at=when.replace(hour=12),
                )
            )
    inbox = Inbox()
    with smtp_server(inbox, smtp_port):
        assert await mail.enqueue_digests(services, now=now) == 1
        assert await mail.enqueue_digests(services, now=now) == 0  # another instance, again
        await wait_until(lambda: inbox.counts() == {"earner@artists.example": 1}, what="digest")
    (digest,) = inbox.to("earner@artists.example")
    assert digest["Subject"] == f"Your earnings, {yesterday:%Y-%m-%d}: 1.5 in tips"
    assert "Tips: 2 from 2 fans, 1.5 in total." in digest.get_content()
    assert "/mail/unsubscribe?" in digest["List-Unsubscribe"]


async def test_two_instances_on_postgresql_send_each_mail_once(
    postgres_url: str, mail_config: BackendConfig, smtp_port: int, client: httpx.AsyncClient
) -> None:
    database = await asyncio.to_thread(create_database, postgres_url, "mail_two_instances")
    config = replace(mail_config, database_url=database)
    inbox = Inbox()
    with smtp_server(inbox, smtp_port):
        async with serve(config) as first, serve(config) as second:
            artist, artist_tokens = await make_profile(client, first, name="Shared")
            emails = {}
            async with first.app.state.services.sessions.begin() as session:  # type: ignore[union-attr]
                for i in range(300):
                    address = to_checksum_address(f"0x{i + 1:040x}")
                    emails[address] = f"pg{i}@fans.example"
                    session.add(Follow(follower=address, artist=artist.address))
                    session.add(MailPrefs(address=address, email=emails[address], bounces=0))
            await _go_live(client, first, artist_tokens, "Both of us")
            second.app.state.services.mailer.wake()  # type: ignore[union-attr]
            await wait_until(lambda: len(inbox.counts()) == 300, timeout=120, what="300 mails")
            while not await _settled(first):
                await asyncio.sleep(0.05)
        mailers = [b.app.state.services.mailer for b in (first, second)]  # type: ignore[union-attr]
    assert inbox.counts() == {email: 1 for email in emails.values()}
    assert sum(m.sent for m in mailers) == 300  # between them (each claims its own rows)
