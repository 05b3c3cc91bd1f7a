"""An artist on the real backend: Sign-In with Ethereum, an artist profile, an announced stream."""

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from backend.siwe import SiweMessage

DEVNET_CHAIN_ID = 31337


@dataclass
class Artist:
    address: str
    access_token: str
    stream_id: str | None = None


async def sign_in(client: httpx.AsyncClient, url: str) -> Artist:
    account = Account.create()
    nonce = (await client.get(f"{url}/auth/nonce")).json()["nonce"]
    text = SiweMessage(
        domain=urlsplit(url).netloc,
        address=account.address,
        statement="Sign in to HarmonieCORE.",
        uri=url,
        chain_id=DEVNET_CHAIN_ID,
        nonce=nonce,
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    signature = "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix(
        "0x"
    )
    tokens = await client.post(f"{url}/auth/verify", json={"message": text, "signature": signature})
    tokens.raise_for_status()
    return Artist(address=account.address, access_token=tokens.json()["access_token"])


async def announce_stream(url: str, title: str, name: str = "E2E Artist") -> Artist:
    """A new artist who went live: publishing to /whip/<artist.stream_id> with their token
    makes the relay stream, the announced stream and its chat room one and the same."""
    async with httpx.AsyncClient(timeout=10) as client:
        artist = await sign_in(client, url)
        headers = {"Authorization": f"Bearer {artist.access_token}"}
        profile = {"role": "artist", "display_name": name}
        response = await client.put(
            f"{url}/profiles/{artist.address}", json=profile, headers=headers
        )
        response.raise_for_status()
        stream = await client.post(f"{url}/streams", json={"title": title}, headers=headers)
        stream.raise_for_status()
        artist.stream_id = str(stream.json()["id"])
        return artist
