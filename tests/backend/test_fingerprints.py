"""Content checks on listing: real audio (PyAV), real Chromaprint (fpcalc), real backend.

A track matching another artist's listed recording is held (not shown to fans) with the
reason; the same artist publishing the same recording again is not held."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from backend.config import BackendConfig
from backend.fingerprints import MATCH_BIT_ERROR_RATE, bit_error_rate
from media.fingerprint import fingerprint
from media.probe import MediaError
from tests.backend.conftest import create_database
from tests.backend.support import RunningBackend, bearer, make_profile, serve, upload
from tests.uploads.audio import encode_tune, make_audio, tune


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tune 1 at 320 kb/s MP3, at 48 kb/s Opus, trimmed by 3 s at 96 kb/s; tune 2."""
    folder = tmp_path_factory.mktemp("tunes")
    first, second = tune(1), tune(2)
    return {
        "original": encode_tune(folder / "original.mp3", first, 320_000),
        "reencoded": encode_tune(folder / "reencoded.opus", first, 48_000),
        "trimmed": encode_tune(folder / "trimmed.mp3", first[3 * 44_100 :], 96_000),
        "other": encode_tune(folder / "other.mp3", second, 320_000),
    }


def _raw(path: Path) -> list[int]:
    found = fingerprint(path)
    assert found is not None
    return found.raw


def _words(path: Path) -> np.ndarray:
    return np.asarray(_raw(path), dtype=np.uint32)


def test_same_tune_reencoded_matches_and_a_different_one_does_not(
    recordings: dict[str, Path],
) -> None:
    original = _words(recordings["original"])
    assert len(original) > 100  # ~8 words a second of a 20 s tune
    same = bit_error_rate(original, _words(recordings["reencoded"]))
    trimmed = bit_error_rate(original, _words(recordings["trimmed"]))
    other = bit_error_rate(original, _words(recordings["other"]))
    other_vs_copy = bit_error_rate(_words(recordings["reencoded"]), _words(recordings["other"]))
    assert same < MATCH_BIT_ERROR_RATE and trimmed < MATCH_BIT_ERROR_RATE
    assert other > MATCH_BIT_ERROR_RATE and other_vs_copy > MATCH_BIT_ERROR_RATE
    assert other > 2 * max(same, trimmed)


def test_a_file_that_is_not_audio_gets_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "song.mp3"
    junk.write_bytes(b"this is not an mp3 file at all" * 100)
    with pytest.raises(MediaError, match=r"song\.mp3: no acoustic fingerprint could be computed"):
        fingerprint(junk)


def test_audio_too_short_for_a_fingerprint_has_none(tmp_path: Path) -> None:
    assert fingerprint(make_audio(tmp_path, "wav", seconds=2.0, tagged=False)) is None


async def _list(
    client: httpx.AsyncClient,
    backend: RunningBackend,
    tokens: dict,
    path: Path,
    title: str,
) -> httpx.Response:
    cid = await upload(client, backend, tokens, path.read_bytes())
    body = {
        "title": title,
        "cid": cid,
        "duration_s": 20.0,
        "fingerprint": _raw(path),
    }
    return await client.post(f"{backend.url}/tracks", json=body, headers=bearer(tokens))


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_backend(
    request: pytest.FixtureRequest, backend_config: BackendConfig
) -> AsyncIterator[RunningBackend]:
    """The backend on SQLite, and on PostgreSQL (migration 0007 on both)."""
    config = backend_config
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        name = f"fingerprints_{uuid.uuid4().hex[:12]}"
        config = replace(config, database_url=create_database(url, name))
    async with serve(config) as running:
        yield running


async def test_another_artists_recording_is_held_and_hidden_the_same_artist_is_not(
    any_backend: RunningBackend, client: httpx.AsyncClient, recordings: dict[str, Path]
) -> None:
    backend = any_backend
    nova, nova_tokens = await make_profile(client, backend, name="Nova")
    copycat, copy_tokens = await make_profile(client, backend, name="Copycat")

    original = await _list(client, backend, nova_tokens, recordings["original"], "Moonrise")
    assert original.status_code == 201 and original.json()["status"] == "listed"

    copy = await _list(client, backend, copy_tokens, recordings["reencoded"], "My Song")
    assert copy.status_code == 201, copy.text
    held = copy.json()
    assert held["status"] == "held"
    reason = "This recording matches 'Moonrise' by Nova; it is held for review."
    assert held["held_reason"] == reason
    again = await _list(client, backend, copy_tokens, recordings["reencoded"], "My Song")
    assert again.status_code == 200 and again.json()["status"] == "held"  # idempotent, still held

    # A held track is shown to no one: not in the newest, the artist's page, one track, search.
    newest = (await client.get(f"{backend.url}/tracks")).json()["items"]
    assert [t["title"] for t in newest] == ["Moonrise"]
    mine = (await client.get(f"{backend.url}/artists/{copycat.address}/tracks")).json()
    assert mine["items"] == []
    assert (await client.get(f"{backend.url}/tracks/{held['id']}")).status_code == 404
    found = (await client.get(f"{backend.url}/search/tracks", params={"q": "song"})).json()
    assert found["items"] == []

    # Different music by the same uploader is listed.
    own = await _list(client, backend, copy_tokens, recordings["other"], "Really Mine")
    assert own.status_code == 201 and own.json()["status"] == "listed"

    # The original artist publishing a new cut of the same recording is not held.
    recut = await _list(client, backend, nova_tokens, recordings["trimmed"], "Moonrise (edit)")
    assert recut.status_code == 201 and recut.json()["status"] == "listed", recut.text
    titles = {t["title"] for t in (await client.get(f"{backend.url}/tracks")).json()["items"]}
    assert titles == {"Moonrise", "Moonrise (edit)", "Really Mine"}
    assert nova.address != copycat.address


async def test_a_fingerprint_with_words_out_of_range_is_refused(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _artist, tokens = await make_profile(client, backend, name="Nova")
    cid = await upload(client, backend, tokens, b"bytes")
    body = {"title": "T", "cid": cid, "duration_s": 1.0, "fingerprint": [2**32]}
    response = await client.post(f"{backend.url}/tracks", json=body, headers=bearer(tokens))
    assert response.status_code == 422


async def test_a_steady_tone_by_two_artists_is_not_held(
    backend: RunningBackend, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A tone (or silence) fingerprints as one word repeated: it tells nothing apart."""
    tone = make_audio(tmp_path, "wav", seconds=20.0, tagged=False)
    for name in ("Nova", "Copycat"):
        _artist, tokens = await make_profile(client, backend, name=name)
        listed = await _list(client, backend, tokens, tone, f"Tone of {name}")
        assert listed.status_code == 201 and listed.json()["status"] == "listed", listed.text
