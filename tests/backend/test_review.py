"""Review of held tracks (backend.review): real audio, real Chromaprint, real backend."""

from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from backend.config import BackendConfig
from tests.backend.support import bearer, make_profile, serve, sign_in
from tests.backend.test_fingerprints import _list, recordings  # noqa: F401 - a fixture


async def test_a_reviewer_lists_one_held_track_and_rejects_another_and_artists_are_told(
    backend_config: BackendConfig,
    client: httpx.AsyncClient,
    recordings: dict[str, Path],  # noqa: F811
) -> None:
    reviewer = Account.create()
    config = replace(backend_config, reviewers=(reviewer.address,))
    async with serve(config) as backend:
        url = backend.url
        _nova, nova_tokens = await make_profile(client, backend, name="Nova")
        copycat, copy_tokens = await make_profile(client, backend, name="Copycat")
        cover, cover_tokens = await make_profile(client, backend, name="Cover Band")
        _, reviewer_tokens = await sign_in(client, backend, reviewer)
        assert (
            await _list(client, backend, nova_tokens, recordings["original"], "Moonrise")
        ).json()["status"] == "listed"
        copied = (await _list(client, backend, copy_tokens, recordings["reencoded"], "Mine")).json()
        covered = (await _list(client, backend, cover_tokens, recordings["trimmed"], "Live")).json()
        assert copied["status"] == covered["status"] == "held"

        # Only reviewers see the queue; unsigned callers are told to sign in.
        queue = f"{url}/review/held-tracks"
        assert (await client.get(queue)).status_code == 401
        refused = await client.get(queue, headers=bearer(copy_tokens))
        assert refused.status_code == 403 and "reviewers" in refused.json()["detail"]
        held = (await client.get(queue, headers=bearer(reviewer_tokens))).json()["items"]
        assert [t["id"] for t in held] == [copied["id"], covered["id"]]  # oldest first
        assert all(t["held_reason"].startswith("This recording matches 'Moonrise'") for t in held)

        decide = f"{url}/review/tracks"
        not_theirs = await client.post(
            f"{decide}/{covered['id']}", json={"decision": "list"}, headers=bearer(copy_tokens)
        )
        assert not_theirs.status_code == 403
        no_reason = await client.post(
            f"{decide}/{copied['id']}", json={"decision": "reject"}, headers=bearer(reviewer_tokens)
        )
        assert no_reason.status_code == 422 and "why" in no_reason.json()["detail"]
        rejected = await client.post(
            f"{decide}/{copied['id']}",
            json={"decision": "reject", "note": "the same master as Nova's Moonrise"},
            headers=bearer(reviewer_tokens),
        )
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["held_reason"] == (
            "Rejected on review: the same master as Nova's Moonrise"
        )
        again = await client.post(
            f"{decide}/{copied['id']}", json={"decision": "list"}, headers=bearer(reviewer_tokens)
        )
        assert again.status_code == 409, "a decision is taken once"
        listed = await client.post(
            f"{decide}/{covered['id']}",
            json={"decision": "list", "note": "a licensed live cover"},
            headers=bearer(reviewer_tokens),
        )
        assert listed.status_code == 200 and listed.json()["status"] == "listed"
        missing = await client.post(
            f"{decide}/999999", json={"decision": "list"}, headers=bearer(reviewer_tokens)
        )
        assert missing.status_code == 404

        # Fans see the listed one only; each artist sees their own track's fate.
        titles = {t["title"] for t in (await client.get(f"{url}/tracks")).json()["items"]}
        assert titles == {"Moonrise", "Live"}
        assert (await client.get(f"{url}/tracks/{copied['id']}")).status_code == 404
        queue_after = (await client.get(queue, headers=bearer(reviewer_tokens))).json()
        assert queue_after["items"] == []
        mine = (await client.get(f"{url}/me/tracks", headers=bearer(copy_tokens))).json()
        assert [(t["title"], t["status"]) for t in mine["items"]] == [("Mine", "rejected")]
        assert mine["items"][0]["reviewed_at"] is not None
        told = {}
        for who, tokens in ((copycat, copy_tokens), (cover, cover_tokens)):
            found = (await client.get(f"{url}/notifications", headers=bearer(tokens))).json()
            told[who.address] = [
                (n["data"]["title"], n["data"]["decision"], n["data"]["note"])
                for n in found["items"]
                if n["kind"] == "track_reviewed"
            ]
        assert told == {
            copycat.address: [("Mine", "reject", "the same master as Nova's Moonrise")],
            cover.address: [("Live", "list", "a licensed live cover")],
        }


async def test_nobody_reviews_their_own_track_nor_on_a_backend_that_names_no_reviewers(
    backend_config: BackendConfig,
    client: httpx.AsyncClient,
    recordings: dict[str, Path],  # noqa: F811
) -> None:
    artist_reviewer = Account.create()
    config = replace(backend_config, reviewers=(artist_reviewer.address,))
    async with serve(config) as backend:
        _, nova_tokens = await make_profile(client, backend, name="Nova")
        await _list(client, backend, nova_tokens, recordings["original"], "Moonrise")
        _, own_tokens = await make_profile(client, backend, name="Rev", account=artist_reviewer)
        own = (await _list(client, backend, own_tokens, recordings["reencoded"], "Mine")).json()
        assert own["status"] == "held"
        answer = await client.post(
            f"{backend.url}/review/tracks/{own['id']}",
            json={"decision": "list"},
            headers=bearer(own_tokens),
        )
        assert answer.status_code == 403 and "your own track" in answer.json()["detail"]

    async with serve(backend_config) as nobody:
        _, tokens = await sign_in(client, nobody)
        answer = await client.get(f"{nobody.url}/review/held-tracks", headers=bearer(tokens))
        assert answer.status_code == 403 and "names no reviewers" in answer.json()["detail"]


def test_a_reviewer_must_be_a_checksummed_address(backend_config: BackendConfig) -> None:
    with pytest.raises(ValueError, match="not a checksummed address"):
        replace(backend_config, reviewers=("0xabc",))
