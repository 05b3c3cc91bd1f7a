"""Sign-in over HTTP: nonce, verify, refresh, and the refusals a malicious client meets."""

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import jwt
from eth_account import Account

from tests.backend.conftest import JWT_SECRET
from tests.backend.support import RunningBackend, bearer, serve, sign, sign_in, siwe_message


async def _nonce(client: httpx.AsyncClient, backend: RunningBackend) -> str:
    response = await client.get(f"{backend.url}/auth/nonce")
    assert response.status_code == 200
    return response.json()["nonce"]


async def _verify(
    client: httpx.AsyncClient, backend: RunningBackend, text: str, signature: str
) -> httpx.Response:
    return await client.post(
        f"{backend.url}/auth/verify", json={"message": text, "signature": signature}
    )


async def test_sign_in_returns_tokens_bound_to_the_address(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    account, tokens = await sign_in(client, backend)
    assert tokens["address"] == account.address
    assert tokens["expires_in"] == backend.config.access_token_ttl_s
    me = await client.get(f"{backend.url}/auth/me", headers=bearer(tokens))
    assert me.status_code == 200 and me.json() == {"address": account.address}


async def test_nonces_are_unique(backend: RunningBackend, client: httpx.AsyncClient) -> None:
    nonces = {await _nonce(client, backend) for _ in range(5)}
    assert len(nonces) == 5 and all(len(n) >= 8 and n.isalnum() for n in nonces)


async def test_replayed_nonce_is_refused(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    account = Account.create()
    text = siwe_message(backend, account, await _nonce(client, backend)).to_text()
    signature = sign(account, text)
    assert (await _verify(client, backend, text, signature)).status_code == 200
    replay = await _verify(client, backend, text, signature)
    assert replay.status_code == 401
    assert "nonce" in replay.json()["detail"]


async def test_unknown_nonce_is_refused(backend: RunningBackend, client: httpx.AsyncClient) -> None:
    account = Account.create()
    text = siwe_message(backend, account, "madeUpNonce123").to_text()
    response = await _verify(client, backend, text, sign(account, text))
    assert response.status_code == 401 and "nonce" in response.json()["detail"]


async def test_expired_message_is_refused(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    account = Account.create()
    past = datetime.now(UTC) - timedelta(minutes=2)
    text = siwe_message(
        backend,
        account,
        await _nonce(client, backend),
        issued_at=(past - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        expiration_time=past.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    response = await _verify(client, backend, text, sign(account, text))
    assert response.status_code == 401 and "expired" in response.json()["detail"]


async def test_wrong_domain_uri_or_chain_is_refused(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    account = Account.create()
    for overrides, code in (
        ({"domain": "phishing.example", "uri": "https://phishing.example/"}, "domain"),
        ({"uri": "https://phishing.example/"}, "uri"),
        ({"chain_id": 56}, "chain_id"),
    ):
        nonce = await _nonce(client, backend)
        text = siwe_message(backend, account, nonce, **overrides).to_text()
        response = await _verify(client, backend, text, sign(account, text))
        assert response.status_code == 401, overrides
        assert f"({code})" in response.json()["detail"]


async def test_forged_signature_is_refused_and_does_not_burn_the_nonce(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    victim, attacker = Account.create(), Account.create()
    text = siwe_message(backend, victim, await _nonce(client, backend)).to_text()
    forged = await _verify(client, backend, text, sign(attacker, text))
    assert forged.status_code == 401 and "signature" in forged.json()["detail"]
    assert (await _verify(client, backend, text, sign(victim, text))).status_code == 200


async def test_malformed_message_is_refused(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    account = Account.create()
    response = await _verify(client, backend, "hello", sign(account, "hello"))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("sign-in refused (malformed)")


async def test_expired_or_forged_jwt_is_refused(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    address = Account.create().address
    now = int(time.time())
    base = {"sub": address, "iss": "harmonie-backend", "typ": "access"}
    expired = jwt.encode({**base, "iat": now - 3600, "exp": now - 60}, JWT_SECRET, "HS256")
    forged = jwt.encode({**base, "iat": now, "exp": now + 600}, "another-secret" * 3, "HS256")
    unsigned = jwt.encode({**base, "iat": now, "exp": now + 600}, None, "none")
    for token, why in ((expired, "expired"), (forged, "not valid"), (unsigned, "not valid")):
        response = await client.get(
            f"{backend.url}/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        assert why in response.json()["detail"]
    assert (await client.get(f"{backend.url}/auth/me")).status_code == 401


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_sessions(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _, tokens = await sign_in(client, backend)
    first = await client.post(
        f"{backend.url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert first.status_code == 200
    renewed = first.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    reuse = await client.post(
        f"{backend.url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert reuse.status_code == 401
    # The reuse revoked the whole family, including the token just issued.
    after = await client.post(
        f"{backend.url}/auth/refresh", json={"refresh_token": renewed["refresh_token"]}
    )
    assert after.status_code == 401


async def test_unknown_refresh_token_is_refused(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    response = await client.post(f"{backend.url}/auth/refresh", json={"refresh_token": "x" * 43})
    assert response.status_code == 401


async def test_sign_in_endpoints_are_rate_limited_per_client(
    backend_config, client: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    async with serve(replace(backend_config, auth_burst=3, auth_rate_per_s=0.01)) as backend:
        statuses = [(await client.get(f"{backend.url}/auth/nonce")).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = await client.post(f"{backend.url}/auth/refresh", json={"refresh_token": "x" * 43})
        assert refused.status_code == 429
