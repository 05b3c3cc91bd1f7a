# pragma version ~=0.4.3
# pragma evm-version shanghai
"""
@title HarmonieCORE marketplace
@notice Fixed-price sales of track editions (the track NFT contract; an edition of N is N
        token ids) in the native coin. The seller keeps the token until it sells and approves
        this contract to move it. On every sale the token's EIP-2981 royalty goes to the
        royalty receiver's split (as tips do) and the rest to the seller, as balances each
        payee withdraws (pull payments).
"""

from ethereum.ercs import IERC721

import payouts

initializes: payouts

exports: (
    payouts.withdraw,
    payouts.balances,
    payouts.owed_total,
    payouts.splits,
)

MAX_BATCH: constant(uint256) = 100


interface IERC2981:
    def royaltyInfo(token_id: uint256, sale_price: uint256) -> (address, uint256): view


struct Listing:
    seller: address
    price: uint256


event Listed:
    seller: indexed(address)
    token_id: indexed(uint256)
    price: uint256


event Sold:
    seller: indexed(address)
    buyer: indexed(address)
    artist: indexed(address)
    token_id: uint256
    price: uint256
    royalty: uint256


event Cancelled:
    seller: indexed(address)
    token_id: indexed(uint256)


event PriceChanged:
    seller: indexed(address)
    token_id: indexed(uint256)
    old_price: uint256
    new_price: uint256


nft: public(immutable(address))
listings: public(HashMap[uint256, Listing])


@deploy
def __init__(nft_: address, splits_: address):
    assert nft_ != empty(address), "market: NFT contract is the zero address"
    payouts.__init__(splits_)
    nft = nft_


@internal
def _list(token_id: uint256, price: uint256):
    assert price > 0, "market: a price must be more than zero"
    assert staticcall IERC721(nft).ownerOf(token_id) == msg.sender, "market: only the token's owner may list it"
    assert (
        staticcall IERC721(nft).isApprovedForAll(msg.sender, self)
        or staticcall IERC721(nft).getApproved(token_id) == self
    ), "market: approve the marketplace for this token first"
    # a listing left by an earlier owner is replaced
    self.listings[token_id] = Listing(seller=msg.sender, price=price)
    log Listed(seller=msg.sender, token_id=token_id, price=price)


@external
def list_token(token_id: uint256, price: uint256):
    """@notice List `token_id` at `price` wei. The caller owns it and has approved this contract."""
    self._list(token_id, price)


@external
def list_tokens(token_ids: DynArray[uint256, MAX_BATCH], price: uint256):
    """@notice List several tokens (an edition) at `price` wei each."""
    assert len(token_ids) > 0, "market: no tokens to list"
    for token_id: uint256 in token_ids:
        self._list(token_id, price)


@internal
@view
def _own_listing(token_id: uint256) -> Listing:
    listing: Listing = self.listings[token_id]
    assert listing.seller != empty(address), "market: the token is not listed"
    assert listing.seller == msg.sender, "market: only the seller may change a listing"
    return listing


@external
def cancel(token_id: uint256):
    """@notice Withdraw the caller's listing of `token_id`."""
    self._own_listing(token_id)
    self.listings[token_id] = empty(Listing)
    log Cancelled(seller=msg.sender, token_id=token_id)


@external
def change_price(token_id: uint256, new_price: uint256):
    """@notice Set a new price on the caller's listing of `token_id`."""
    assert new_price > 0, "market: a price must be more than zero"
    listing: Listing = self._own_listing(token_id)
    self.listings[token_id].price = new_price
    log PriceChanged(seller=msg.sender, token_id=token_id, old_price=listing.price, new_price=new_price)


@external
@view
def royalty_of(token_id: uint256, price: uint256) -> (address, uint256):
    """@notice Who gets the royalty on a sale of `token_id` at `price`, and how much."""
    return self._royalty(token_id, price)


@internal
@view
def _royalty(token_id: uint256, price: uint256) -> (address, uint256):
    receiver: address = empty(address)
    amount: uint256 = 0
    receiver, amount = staticcall IERC2981(nft).royaltyInfo(token_id, price)
    if receiver == empty(address):
        return empty(address), 0
    return receiver, min(amount, price)


@external
@payable
@nonreentrant
def buy(token_id: uint256):
    """
    @notice Buy `token_id` at its listed price (send exactly that). The royalty is credited
            to the artist's split, the rest to the seller; the token moves to the caller.
    """
    listing: Listing = self.listings[token_id]
    assert listing.seller != empty(address), "market: the token is not listed"
    assert msg.sender != listing.seller, "market: a seller cannot buy their own listing"
    assert msg.value == listing.price, "market: send exactly the listed price"
    assert staticcall IERC721(nft).ownerOf(token_id) == listing.seller, "market: the seller no longer holds this token"

    self.listings[token_id] = empty(Listing)
    artist: address = empty(address)
    royalty: uint256 = 0
    artist, royalty = self._royalty(token_id, listing.price)
    if royalty > 0:
        payouts._pay_split(artist, royalty)
    payouts._credit(listing.seller, artist, listing.price - royalty)

    extcall IERC721(nft).safeTransferFrom(listing.seller, msg.sender, token_id, b"")
    log Sold(
        seller=listing.seller,
        buyer=msg.sender,
        artist=artist,
        token_id=token_id,
        price=listing.price,
        royalty=royalty,
    )
