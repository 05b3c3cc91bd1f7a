"""Profiles, follows, tracks, live streams, search and pagination over HTTP."""

import httpx
from eth_account import Account

from backend.streams import announcements as live
from tests.backend.support import RunningBackend, bearer, cid, make_profile, sign_in, upload


async def test_profile_create_read_and_edit_own_only(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, tokens = await make_profile(client, backend, name="Nova", bio="synths")
    got = (await client.get(f"{backend.url}/profiles/{artist.address.lower()}")).json()
    assert got["display_name"] == "Nova" and got["role"] == "artist" and got["followers"] == 0
    assert got["address"] == artist.address  # any case in, checksummed out

    edit = await client.put(
        f"{backend.url}/profiles/{artist.address}",
        json={
            "role": "artist",
            "display_name": "Nova Nights",
            "bio": "line one\nline two",
            "avatar_cid": cid(7),
            "links": ["https://nova.example/"],
        },
        headers=bearer(tokens),
    )
    assert edit.status_code == 200 and edit.json()["display_name"] == "Nova Nights"

    _other, other_tokens = await sign_in(client, backend)
    hijack = await client.put(
        f"{backend.url}/profiles/{artist.address}",
        json={"role": "artist", "display_name": "pwned"},
        headers=bearer(other_tokens),
    )
    assert hijack.status_code == 403
    anonymous = await client.put(
        f"{backend.url}/profiles/{artist.address}", json={"role": "fan", "display_name": "x"}
    )
    assert anonymous.status_code == 401
    assert (await client.get(f"{backend.url}/profiles/{artist.address}")).json()[
        "display_name"
    ] == ("Nova Nights")
    missing = await client.get(f"{backend.url}/profiles/{Account.create().address}")
    assert missing.status_code == 404 and missing.json()["detail"]


async def test_bad_profile_input_is_a_422(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    account, tokens = await sign_in(client, backend)
    for body in (
        {"role": "admin", "display_name": "x"},
        {"role": "fan", "display_name": ""},
        {"role": "fan", "display_name": "a\u0000b"},
        {"role": "fan", "display_name": "two\nlines"},
        {"role": "fan", "display_name": "x" * 65},
        {"role": "fan", "display_name": "x", "avatar_cid": "not-a-cid"},
        {"role": "fan", "display_name": "x", "links": ["javascript:alert(1)"]},
        {"role": "fan", "display_name": "x", "is_admin": True},
    ):
        response = await client.put(
            f"{backend.url}/profiles/{account.address}", json=body, headers=bearer(tokens)
        )
        assert response.status_code == 422, body
    bad_address = await client.get(f"{backend.url}/profiles/0x1234")
    assert bad_address.status_code == 422


async def test_follow_unfollow_and_followers_count(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, artist_tokens = await make_profile(client, backend, name="Nova")
    fans = [await sign_in(client, backend) for _ in range(3)]
    url = f"{backend.url}/artists/{artist.address}/follow"
    for _, tokens in fans:
        assert (await client.put(url, headers=bearer(tokens))).status_code == 200
    again = await client.put(url, headers=bearer(fans[0][1]))  # idempotent
    assert again.json() == {"artist": artist.address, "following": True, "followers": 3}
    assert (await client.get(f"{backend.url}/artists/{artist.address}")).json()["followers"] == 3
    gone = await client.delete(url, headers=bearer(fans[1][1]))
    assert gone.json()["followers"] == 2
    followers = (await client.get(f"{backend.url}/artists/{artist.address}/followers")).json()
    assert set(followers["items"]) == {fans[0][0].address, fans[2][0].address}
    following = (await client.get(f"{backend.url}/profiles/{fans[0][0].address}/following")).json()
    assert following["items"] == [artist.address]
    assert (await client.put(url, headers=bearer(artist_tokens))).status_code == 409
    assert (await client.put(url)).status_code == 401
    fan_only, _ = await make_profile(client, backend, role="fan", name="Just a fan")
    not_artist = await client.put(
        f"{backend.url}/artists/{fan_only.address}/follow", headers=bearer(fans[0][1])
    )
    assert not_artist.status_code == 404


async def test_tracks_listing_is_idempotent_owned_and_paginated(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, tokens = await make_profile(client, backend, name="Nova")
    first_cid = await upload(client, backend, tokens, b"midnight drive")
    body = {"title": "Midnight Drive", "cid": first_cid, "duration_s": 201.5, "loudness_lufs": -14}
    first = await client.post(f"{backend.url}/tracks", json=body, headers=bearer(tokens))
    assert first.status_code == 201
    track = first.json()
    assert track["artist_name"] == "Nova" and track["artist_address"] == artist.address
    again = await client.post(f"{backend.url}/tracks", json=body, headers=bearer(tokens))
    assert again.status_code == 200 and again.json()["id"] == track["id"]
    for n in range(2, 8):
        song = await upload(client, backend, tokens, b"song %d" % n)
        body = {"title": f"Song {n}", "cid": song, "duration_s": 60}
        assert (
            await client.post(f"{backend.url}/tracks", json=body, headers=bearer(tokens))
        ).status_code == 201

    page1 = (await client.get(f"{backend.url}/tracks", params={"limit": 3})).json()
    page2 = (await client.get(f"{backend.url}/tracks", params={"limit": 3, "offset": 3})).json()
    page3 = (await client.get(f"{backend.url}/tracks", params={"limit": 3, "offset": 6})).json()
    assert page1["next_offset"] == 3 and page2["next_offset"] == 6 and page3["next_offset"] is None
    titles = [t["title"] for t in page1["items"] + page2["items"] + page3["items"]]
    assert len(titles) == 7 and len(set(titles)) == 7 and titles[0] == "Song 7"
    by_artist = (await client.get(f"{backend.url}/artists/{artist.address}/tracks")).json()
    assert len(by_artist["items"]) == 7

    _fan, fan_tokens = await sign_in(client, backend)
    refused = await client.post(
        f"{backend.url}/tracks",
        json={
            "title": "x",
            "cid": await upload(client, backend, fan_tokens, b"x"),
            "duration_s": 2,
        },
        headers=bearer(fan_tokens),
    )
    assert refused.status_code == 403
    steal = await client.delete(f"{backend.url}/tracks/{track['id']}", headers=bearer(fan_tokens))
    assert steal.status_code == 403
    own = await client.delete(f"{backend.url}/tracks/{track['id']}", headers=bearer(tokens))
    assert own.status_code == 204
    assert (await client.get(f"{backend.url}/tracks/{track['id']}")).status_code == 404
    assert (await client.get(f"{backend.url}/tracks", params={"limit": 0})).status_code == 422
    assert (await client.get(f"{backend.url}/tracks", params={"limit": 101})).status_code == 422


async def test_search_finds_artists_and_tracks_and_renames_follow(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, tokens = await make_profile(client, backend, name="Aurora Skies", bio="ambient")
    _other, other_tokens = await make_profile(client, backend, name="Deep Bass Crew")
    for title in ["Northern Lights", "Lights Out", "Café Crème"]:
        await client.post(
            f"{backend.url}/tracks",
            json={
                "title": title,
                "cid": await upload(client, backend, tokens, title.encode()),
                "duration_s": 90,
            },
            headers=bearer(tokens),
        )
    await client.post(
        f"{backend.url}/tracks",
        json={
            "title": "Sub Lights",
            "cid": await upload(client, backend, other_tokens, b"sub"),
            "duration_s": 90,
        },
        headers=bearer(other_tokens),
    )

    async def track_titles(q: str, **params: object) -> list[str]:
        response = await client.get(f"{backend.url}/search/tracks", params={"q": q, **params})
        assert response.status_code == 200, response.text
        return [t["title"] for t in response.json()["items"]]

    assert set(await track_titles("lights")) == {"Northern Lights", "Lights Out", "Sub Lights"}
    assert set(await track_titles("light aurora")) == {"Northern Lights", "Lights Out"}
    assert await track_titles("creme") == ["Café Crème"]  # diacritics folded
    assert await track_titles('" OR * NEAR(') == []  # query syntax is never interpreted
    paged = (
        await client.get(f"{backend.url}/search/tracks", params={"q": "lights", "limit": 2})
    ).json()
    assert len(paged["items"]) == 2 and paged["next_offset"] == 2

    both = (await client.get(f"{backend.url}/search", params={"q": "aur"})).json()
    assert [a["display_name"] for a in both["artists"]["items"]] == ["Aurora Skies"]
    assert {t["title"] for t in both["tracks"]["items"]} == {
        "Northern Lights",
        "Lights Out",
        "Café Crème",
    }

    await client.put(
        f"{backend.url}/profiles/{artist.address}",
        json={"role": "artist", "display_name": "Borealis"},
        headers=bearer(tokens),
    )
    assert set(await track_titles("borealis")) == {"Northern Lights", "Lights Out", "Café Crème"}
    assert await track_titles("aurora") == []
    assert (await client.get(f"{backend.url}/search", params={"q": ""})).status_code == 422


async def test_live_now_lists_streams_until_they_end(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    artist, tokens = await make_profile(client, backend, name="Nova")
    stream = await live.mark_live(backend.app, artist=artist.address, title="Friday session")
    await live.set_viewers(backend.app, stream.id, 12)
    now_live = (await client.get(f"{backend.url}/live")).json()["items"]
    assert [(s["id"], s["title"], s["viewers"], s["artist_name"]) for s in now_live] == [
        (stream.id, "Friday session", 12, "Nova")
    ]
    over_http = await client.post(
        f"{backend.url}/streams", json={"title": "Second"}, headers=bearer(tokens)
    )
    assert over_http.status_code == 201
    assert len((await client.get(f"{backend.url}/live")).json()["items"]) == 2
    _, fan_tokens = await sign_in(client, backend)
    not_yours = await client.post(
        f"{backend.url}/streams/{stream.id}/end", headers=bearer(fan_tokens)
    )
    assert not_yours.status_code == 403
    fan_live = await client.post(
        f"{backend.url}/streams", json={"title": "x"}, headers=bearer(fan_tokens)
    )
    assert fan_live.status_code == 403
    await live.mark_ended(backend.app, stream.id)
    ended = (await client.get(f"{backend.url}/streams/{stream.id}")).json()
    assert ended["ended_at"] is not None
    assert [s["title"] for s in (await client.get(f"{backend.url}/live")).json()["items"]] == [
        "Second"
    ]
