# pragma version ~=0.4.3
# pragma evm-version shanghai
"""
@title HarmonieCORE track editions
@notice ERC-721 editions of tracks registered in the content registry. Only a track's
        artist mints its editions; each token points at IPFS metadata (`ipfs://<cid>`) and
        carries an EIP-2981 royalty for the artist. Built on snekmate's audited modules.
"""

from ethereum.ercs import IERC165
implements: IERC165

from snekmate.auth import ownable
from snekmate.tokens import erc721
from snekmate.extensions import erc2981

initializes: ownable
initializes: erc721[ownable := ownable]
initializes: erc2981[ownable := ownable]

exports: (
    erc721.owner,
    erc721.name,
    erc721.symbol,
    erc721.balanceOf,
    erc721.ownerOf,
    erc721.getApproved,
    erc721.isApprovedForAll,
    erc721.approve,
    erc721.setApprovalForAll,
    erc721.transferFrom,
    erc721.safeTransferFrom,
    erc721.tokenURI,
    erc721.totalSupply,
    erc721.tokenByIndex,
    erc721.tokenOfOwnerByIndex,
    erc721.burn,
    erc2981.royaltyInfo,
)

MAX_CID: constant(uint256) = 128
MAX_ROYALTY_BPS: constant(uint96) = 5_000


interface ContentRegistry:
    def artist_of(cid: String[MAX_CID]) -> address: view


event EditionMinted:
    artist: indexed(address)
    token_id: indexed(uint256)
    to: indexed(address)
    cid: String[MAX_CID]
    edition: uint256


registry: public(immutable(address))
track_of: public(HashMap[uint256, String[MAX_CID]])
edition_of: public(HashMap[uint256, uint256])
editions_minted: public(HashMap[bytes32, uint256])
_next_token_id: uint256


@deploy
def __init__(registry_: address):
    ownable.__init__()
    erc721.__init__("HarmonieCORE Tracks", "HTRK", "ipfs://", "HarmonieCORE Tracks", "1")
    erc2981.__init__()
    registry = registry_


@external
@view
def supportsInterface(interface_id: bytes4) -> bool:
    return interface_id in [
        0x01FFC9A7,  # ERC-165
        0x80AC58CD,  # ERC-721
        0x5B5E139F,  # ERC-721 metadata
        0x780E9D63,  # ERC-721 enumerable
        0x2A55205A,  # ERC-2981
    ]


@external
def mint_edition(cid: String[MAX_CID], metadata_cid: String[432], to: address, royalty_bps: uint96) -> uint256:
    """
    @notice Mint the next edition of track `cid` to `to`. Only the artist who registered
            `cid` may. The token's URI is `ipfs://<metadata_cid>`; its royalty goes to the
            artist at `royalty_bps` basis points (at most 50%).
    """
    assert staticcall ContentRegistry(registry).artist_of(cid) == msg.sender, "nft: only the track's artist may mint it"
    assert len(metadata_cid) > 0, "nft: empty metadata CID"
    assert royalty_bps <= MAX_ROYALTY_BPS, "nft: royalty above 50%"

    token_id: uint256 = self._next_token_id
    self._next_token_id = token_id + 1
    key: bytes32 = keccak256(cid)
    edition: uint256 = self.editions_minted[key] + 1
    self.editions_minted[key] = edition
    self.track_of[token_id] = cid
    self.edition_of[token_id] = edition

    erc721._safe_mint(to, token_id, b"")
    erc721._set_token_uri(token_id, metadata_cid)
    if royalty_bps > 0:
        erc2981._set_token_royalty(token_id, msg.sender, royalty_bps)
    log EditionMinted(artist=msg.sender, token_id=token_id, to=to, cid=cid, edition=edition)
    return token_id
