"""The Sales view's figures, read from the chain: the artist's editions on sale now, what
they sold (their part of each price), and the royalties fans' resales paid them.

The chain is the record: a listing taken down, a token sold or moved elsewhere, is seen as it
is now, whatever the studio saw happen.
"""

from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address
from web3 import AsyncWeb3

from chain import contracts
from chain.contracts.market import LISTED_TOPIC, SOLD_TOPIC, decode_sold
from chain.contracts.tipping import address_topic
from chain.networks import Network
from studio.tips.market_events import sale_earnings
from studio.tips.revenue import chunked_logs


@dataclass(frozen=True)
class OnSale:
    token_id: int
    price_wei: int
    track_cid: str  # the audio's CID: the view shows the track's title for it
    edition: int


@dataclass(frozen=True)
class SalesSummary:
    listed: list[OnSale] = field(default_factory=list)
    sold_count: int = 0
    sold_wei: int = 0  # the artist's part of the editions they sold
    royalty_count: int = 0
    royalties_wei: int = 0  # royalties from fans reselling the artist's editions
    # what the artist can withdraw, per contract (marketplace: sales and royalties;
    # subscriptions): both pay out by pull payments, like tips
    withdrawable: dict[str, int] = field(default_factory=dict)


class ChainSales:
    def __init__(self, w3: AsyncWeb3, network: Network, log_chunk: int = 5_000) -> None:
        self.w3 = w3
        self.log_chunk = log_chunk
        market = network.contract_address(contracts.MARKETPLACE)
        nft = network.contract_address(contracts.TRACK_NFT)
        self.market = w3.eth.contract(address=market, abi=contracts.abi(contracts.MARKETPLACE))
        self.nft = w3.eth.contract(address=nft, abi=contracts.abi(contracts.TRACK_NFT))
        subscriptions = network.contract_address(contracts.SUBSCRIPTIONS)
        self.subscriptions = w3.eth.contract(
            address=subscriptions, abi=contracts.abi(contracts.SUBSCRIPTIONS)
        )

    async def summary(self, artist: str, from_block: int = 0) -> SalesSummary:
        me = to_checksum_address(artist)
        topic = address_topic(me)
        listed = await self._logs([LISTED_TOPIC, topic], from_block)
        sold_by_me = [decode_sold(e) for e in await self._logs([SOLD_TOPIC, topic], from_block)]
        as_artist = await self._logs([SOLD_TOPIC, None, None, topic], from_block)
        resold = [sale for sale in map(decode_sold, as_artist) if sale.seller != me]
        on_sale = []
        for token_id in sorted({int.from_bytes(bytes(e["topics"][2]), "big") for e in listed}):
            seller, price = await self.market.functions.listings(token_id).call()
            if to_checksum_address(seller) != me:
                continue  # sold, or taken off sale
            if to_checksum_address(await self.nft.functions.ownerOf(token_id).call()) != me:
                continue  # moved elsewhere: a listing no one can buy
            cid = await self.nft.functions.track_of(token_id).call()
            edition = await self.nft.functions.edition_of(token_id).call()
            on_sale.append(OnSale(token_id, int(price), str(cid), int(edition)))
        return SalesSummary(
            listed=on_sale,
            sold_count=len(sold_by_me),
            sold_wei=sum(
                sale_earnings(s.seller, s.artist, me, s.price_wei, s.royalty_wei)
                for s in sold_by_me
            ),
            royalty_count=len(resold),
            royalties_wei=sum(s.royalty_wei for s in resold),
            withdrawable={
                contracts.MARKETPLACE: int(await self.market.functions.balances(me).call()),
                contracts.SUBSCRIPTIONS: int(
                    await self.subscriptions.functions.balances(me).call()
                ),
            },
        )

    async def _logs(self, topics: list[str | None], from_block: int = 0) -> list[Any]:
        where = {"address": self.market.address, "topics": topics}
        return await chunked_logs(self.w3, where, from_block, self.log_chunk)
