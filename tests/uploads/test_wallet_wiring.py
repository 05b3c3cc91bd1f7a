"""The pipeline on the studio's own wallet session and backend client (the real adapters the
window uses): confirmation flow, registry transaction, listing as the signed-in artist."""

import uuid
from pathlib import Path

import keyring.backend

import chain.wallet  # noqa: F401 (fails loudly if our own code is broken)
from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import BackendClientLister, Publisher
from studio.publishing.registrar import WalletMinter, WalletRegistrar
from studio.publishing.upload_queue import State, UploadQueue
from tests.uploads.audio import make_audio
from tests.uploads.test_publish import chain_track_count, listed_cids

PASSWORD = "a long enough password"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Stands in for the OS keyring (the wallet's own suite runs on gnome-keyring)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


async def unlocked_session(network, account, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The studio's WalletSession on `network` with `account` imported, unlocked, connected."""
    from chain.wallet import KeyringVault, Wallet
    from studio.wallet.session import WalletSession

    wallet = Wallet(KeyringVault(backend=MemoryKeyring(), service="harmonie-test"), scrypt_n=2**12)
    session = WalletSession(wallet, network, tmp_path / "tx.db")
    address = await session.import_private_key(account.key.hex(), PASSWORD)
    session.select(address)
    await session.unlock(PASSWORD)
    await session.connect()
    return session, address


async def test_publish_through_wallet_session_and_backend_client(
    backend, chain, tmp_path: Path
) -> None:
    from eth_account.messages import encode_defunct

    from backend.wire import ProfileIn
    from chain import contracts
    from chain.devnet import dev_accounts
    from chain.networks import custom_network
    from studio.social.backend_client import BackendClient, CallableSigner

    account = dev_accounts(10)[8]  # funded by anvil; its own tracks in this test
    from web3 import Web3

    nft = contracts.deploy(
        Web3(Web3.HTTPProvider(chain.rpc_url)),
        contracts.TRACK_NFT,
        (chain.registry_address,),
        dev_accounts(1)[0],
    )
    network = custom_network(
        chain.rpc_url,
        31337,
        contracts={
            contracts.CONTENT_REGISTRY: chain.registry_address,
            contracts.TRACK_NFT: nft.address,
        },
    )
    session, address = await unlocked_session(network, account, tmp_path)

    def sign(text: str) -> str:
        return account.sign_message(encode_defunct(text=text)).signature.to_0x_hex()

    client = BackendClient(backend.url, CallableSigner(address, sign), chain_id=31337)
    await client.sign_in()
    await client.save_profile(ProfileIn(role="artist", display_name="Wallet Artist"))

    shown: list[tuple[str, list[str]]] = []
    answers = iter([False, True])

    async def confirm(prepared, tracks=()) -> bool:
        shown.append((prepared.description, [t.title for t in tracks]))
        return next(answers)

    minted: list[list[str]] = []

    async def accept(_prepared, tracks=()) -> bool:  # the mint is consented to as well
        minted.append([t.title for t in tracks])
        return True

    queue = UploadQueue(tmp_path / "queue.sqlite3")
    title = f"wallet {uuid.uuid4().hex}"
    path = make_audio(tmp_path, "wav", seconds=1.0, title=title)
    (track,), _ = queue.add([path])
    async with KuboClient(backend.url) as ipfs:
        publisher = Publisher(
            queue,
            ipfs,
            tmp_path / "work",
            registrar=WalletRegistrar(session, confirm),
            lister=BackendClientLister(client),
            minter=WalletMinter(session, accept),
        )
        (declined,) = await publisher.run()
        assert declined.state is State.FAILED and "declined" in declined.detail
        queue.retry(track.id)
        (listed,) = await publisher.run()
    assert listed.state is State.LISTED, listed.detail
    assert len(shown) == 2 and shown[0][0] and shown[0][1] == [title], shown
    assert chain_track_count(chain, address) == 1
    assert listed_cids(backend, address) == [listed.cid]
    assert any(record.hash == listed.tx_hash for record in session.recent())
    assert listed.outputs["nft_tx"].startswith("0x") and minted == [[title]]
    assert nft.functions.editions_minted(Web3.keccak(text=listed.cid)).call() == 1
    assert nft.functions.tokenURI(0).call() == f"ipfs://{listed.outputs['metadata_cid']}"
    # The same file dropped again from elsewhere: neither registered nor minted twice.
    copy = tmp_path / "again"
    copy.mkdir()
    (copy / path.name).write_bytes(path.read_bytes())
    queue.add([copy / path.name])
    async with KuboClient(backend.url) as ipfs:
        publisher.ipfs = ipfs
        (again,) = await publisher.run()
    assert again.state is State.LISTED and again.outputs["nft_tx"] == "minted before"
    assert nft.functions.editions_minted(Web3.keccak(text=listed.cid)).call() == 1
    assert chain_track_count(chain, address) == 1
    await client.aclose()
    await session.close()
    queue.close()


async def test_tracks_queued_together_are_one_confirmation_and_one_transaction(
    chain, content_store, tmp_path: Path
) -> None:
    from chain import contracts
    from chain.devnet import dev_accounts
    from chain.networks import custom_network

    account = dev_accounts(10)[7]  # funded by anvil; its own tracks in this test
    network = custom_network(
        chain.rpc_url, 31337, contracts={contracts.CONTENT_REGISTRY: chain.registry_address}
    )
    session, address = await unlocked_session(network, account, tmp_path)
    w3 = session.w3
    sent_before = w3.eth.get_transaction_count(address)
    tracks_before = chain_track_count(chain, address)
    asked: list[tuple[str, list[str], list[bool]]] = []

    async def confirm(prepared, tracks=()) -> bool:
        asked.append(
            (prepared.description, [t.title for t in tracks], [bool(t.artwork) for t in tracks])
        )
        return True

    run_id = uuid.uuid4().hex[:6]
    # the second file is tagged (its title and artwork), the others are named by their file
    titles = [f"Batch {run_id} {i}" for i in range(3)]
    queue = UploadQueue(tmp_path / "queue.sqlite3")
    for i, title in enumerate(titles):
        folder = tmp_path / str(i)
        folder.mkdir()
        queue.add([make_audio(folder, "wav", 0.5, name=title, title=title, tagged=i == 1)])

    class Lister:
        async def list_track(self, listing):  # the backend's listing is not what is tested here
            return f"listing-{listing['cid']}"

    async with KuboClient(content_store.url) as ipfs:
        publisher = Publisher(
            queue, ipfs, tmp_path / "work",
            registrar=WalletRegistrar(session, confirm), lister=Lister(),
        )  # fmt: skip
        results = await publisher.run()
    assert [t.state for t in results] == [State.LISTED] * 3, [t.detail for t in results]
    assert asked == [("Register 3 tracks under your address", titles, [False, True, False])]
    assert w3.eth.get_transaction_count(address) == sent_before + 1, "one transaction"
    assert chain_track_count(chain, address) == tracks_before + 3
    (tx_hash,) = {t.tx_hash for t in results}
    registry = session.contract(contracts.CONTENT_REGISTRY)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    events = registry.events.TrackRegistered().process_receipt(receipt)
    assert sorted(e["args"]["cid"] for e in events) == sorted(t.cid for t in results)
    for track in results:
        assert queue.registration(track.cid)["tx_hash"] == tx_hash
    # run again: nothing is asked or sent a second time
    async with KuboClient(content_store.url) as ipfs:
        publisher.ipfs = ipfs
        assert await publisher.run() == []
    assert len(asked) == 1 and w3.eth.get_transaction_count(address) == sent_before + 1
    await session.close()
    queue.close()
