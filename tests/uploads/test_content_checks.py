"""Content checks through the publish pipeline: real audio, real fpcalc, the ContentRegistry on
anvil, the real backend. A recording another artist already listed is held and the uploader is
told why; the same artist publishing it again is not held."""

import uuid
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import ListingHeld, ListingRejected, Publisher, listed_id
from studio.publishing.upload_queue import State, UploadQueue
from tests.uploads.audio import encode_tune, tune
from tests.uploads.conftest import lister_for, registrar_for, siwe_token


def new_artist(chain, backend, name: str):  # type: ignore[no-untyped-def]
    """A fresh account with gas on anvil, signed in to the backend as the artist `name`."""
    account = Account.create()
    w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])
    token = siwe_token(backend.url, account)
    httpx.put(
        f"{backend.url}/profiles/{account.address}",
        json={"role": "artist", "display_name": name},
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()
    return account, token


def listed_cids(backend, address: str) -> list[str]:  # type: ignore[no-untyped-def]
    page = httpx.get(f"{backend.url}/artists/{address}/tracks", params={"limit": 100}).json()
    return [t["cid"] for t in page["items"]]


async def publish(chain, backend, artist, path: Path, work: Path):  # type: ignore[no-untyped-def]
    account, token = artist
    queue = UploadQueue(work / "queue.sqlite3")
    try:
        queue.add([path])
        async with KuboClient(backend.url) as ipfs:
            publisher = Publisher(
                queue,
                ipfs,
                work,
                registrar=registrar_for(chain, account),
                lister=lister_for(backend, token),
                rendition=None,
            )
            (first,) = await publisher.run()
            if first.state is not State.WAITING:
                return first, first
            (again,) = await publisher.run()  # a held track is asked about again, not re-sent
        return first, again
    finally:
        queue.close()


async def test_another_artists_recording_is_held_with_the_reason(
    backend, chain, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    nova = new_artist(chain, backend, f"Nova {suffix}")
    copycat = new_artist(chain, backend, f"Copycat {suffix}")
    melody = tune(11)
    original = encode_tune(tmp_path / f"moonrise-{suffix}.mp3", melody, 320_000)
    copy = encode_tune(tmp_path / f"mine-{suffix}.opus", melody, 48_000)
    recut = encode_tune(tmp_path / f"moonrise-edit-{suffix}.mp3", melody[3 * 44_100 :], 96_000)

    listed, _ = await publish(chain, backend, nova, original, tmp_path / "nova")
    assert listed.state is State.LISTED, listed.detail
    assert listed.info["fingerprint"]  # computed during analysis, sent with the listing

    held, again = await publish(chain, backend, copycat, copy, tmp_path / "copycat")
    reason = f"This recording matches 'moonrise-{suffix}' by Nova {suffix}; it is held for review."
    assert held.state is State.WAITING and held.detail == reason
    assert again.state is State.WAITING and again.detail == reason
    assert again.listing_id == held.listing_id and held.listing_id
    assert listed_cids(backend, copycat[0].address) == []

    recut_listed, _ = await publish(chain, backend, nova, recut, tmp_path / "nova-recut")
    assert recut_listed.state is State.LISTED, recut_listed.detail
    assert sorted(listed_cids(backend, nova[0].address)) == sorted([listed.cid, recut_listed.cid])


def test_the_backends_answer_listed_held_or_rejected_by_its_reviewer() -> None:
    assert listed_id({"id": 5, "status": "listed"}) == "5"
    with pytest.raises(ListingHeld, match="held for review") as held:
        listed_id({"id": 6, "status": "held", "held_reason": "It matches X; held for review."})
    assert held.value.listing_id == "6"
    rejected = {"id": 7, "status": "rejected", "held_reason": "Rejected on review: same master"}
    with pytest.raises(ListingRejected, match="Rejected on review: same master"):
        listed_id(rejected)  # a failure with the reason, never taken for listed
