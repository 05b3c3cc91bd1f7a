"""Whoever signs in from the studio gets an artist profile on the first sign-in."""

import asyncio

from eth_account import Account

from backend.wire import ProfileIn
from studio.core import Studio
from studio.profiles import load_profile
from studio.settings import Settings
from studio.social.backend_client import BackendClient

from .conftest import CHAIN_ID, key_signer


def studio_for(tmp_path, client: BackendClient, artist_name: str | None = None) -> Studio:
    settings = Settings.open(tmp_path / "settings.toml")
    if artist_name:
        settings.set("artist_name", artist_name)
    studio = Studio(load_profile("local"), settings, tmp_path / "data", tmp_path / "log")
    studio.backend_client = client
    client.after_sign_in = studio._ensure_artist_profile
    return studio


async def test_first_sign_in_makes_the_artist_profile(backend, tmp_path):
    account = Account.create()
    client = BackendClient(backend.url, key_signer(account), chain_id=CHAIN_ID)
    try:
        studio_for(tmp_path, client, artist_name="Nova Strings")
        assert await client.profile(account.address) is None
        await client.sign_in()
        made = await client.profile(account.address)
        assert made is not None
        assert (made.role, made.display_name) == ("artist", "Nova Strings")
    finally:
        await client.aclose()


async def test_an_existing_profile_is_left_alone(backend, tmp_path):
    account = Account.create()
    client = BackendClient(backend.url, key_signer(account), chain_id=CHAIN_ID)
    try:
        await client.sign_in()
        await client.save_profile(ProfileIn(role="artist", display_name="Chosen Name", bio="hi"))
        studio_for(tmp_path, client)
        await client.sign_in()
        kept = await client.profile(account.address)
        assert kept is not None and (kept.display_name, kept.bio) == ("Chosen Name", "hi")
    finally:
        await client.aclose()


async def test_without_a_name_the_address_names_the_artist(backend, tmp_path):
    account = Account.create()
    client = BackendClient(backend.url, key_signer(account), chain_id=CHAIN_ID)
    try:
        studio_for(tmp_path, client)
        # the first authenticated call signs in under the client's auth lock: the profile
        # is made there too, without waiting on that lock
        await asyncio.wait_for(client.access_token(), 20)
        made = await client.profile(account.address)
        assert made is not None and made.display_name.startswith(f"Artist {account.address[:6]}")
    finally:
        await client.aclose()
