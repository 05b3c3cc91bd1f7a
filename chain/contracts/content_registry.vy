# pragma version ~=0.4.3
# pragma evm-version shanghai
"""
@title HarmonieCORE content registry
@notice An artist registers a track's IPFS CID (and the CID of its metadata) under their
        address. A CID is registered once, by whoever registers it first; only that artist
        may update its metadata.
"""

MAX_CID: constant(uint256) = 128
MAX_TRACKS: constant(uint256) = 100_000


struct Track:
    artist: address
    metadata_cid: String[MAX_CID]
    registered_at: uint256


event TrackRegistered:
    artist: indexed(address)
    cid_hash: indexed(bytes32)
    cid: String[MAX_CID]
    metadata_cid: String[MAX_CID]


event MetadataUpdated:
    artist: indexed(address)
    cid_hash: indexed(bytes32)
    cid: String[MAX_CID]
    metadata_cid: String[MAX_CID]


_tracks: HashMap[bytes32, Track]
_by_artist: HashMap[address, DynArray[String[MAX_CID], MAX_TRACKS]]
track_total: public(uint256)


MAX_BATCH: constant(uint256) = 50


@internal
def _register(cid: String[MAX_CID], metadata_cid: String[MAX_CID], skip_own: bool):
    assert len(cid) > 0, "registry: empty CID"
    key: bytes32 = keccak256(cid)
    artist: address = self._tracks[key].artist
    if skip_own and artist == msg.sender:
        return
    assert artist == empty(address), "registry: CID already registered"
    self._tracks[key] = Track(artist=msg.sender, metadata_cid=metadata_cid, registered_at=block.timestamp)
    self._by_artist[msg.sender].append(cid)
    self.track_total += 1
    log TrackRegistered(artist=msg.sender, cid_hash=key, cid=cid, metadata_cid=metadata_cid)


@external
def register(cid: String[MAX_CID], metadata_cid: String[MAX_CID]):
    self._register(cid, metadata_cid, False)


@external
def register_many(
    cids: DynArray[String[MAX_CID], MAX_BATCH], metadata_cids: DynArray[String[MAX_CID], MAX_BATCH]
):
    """
    @notice Register several tracks in one transaction. A CID the sender registered already is
            skipped, so a batch sent again after a crash registers only what is missing; a CID
            someone else registered reverts the whole batch.
    """
    assert len(cids) == len(metadata_cids), "registry: one metadata CID per CID"
    for i: uint256 in range(len(cids), bound=MAX_BATCH):
        self._register(cids[i], metadata_cids[i], True)


@external
def update_metadata(cid: String[MAX_CID], metadata_cid: String[MAX_CID]):
    key: bytes32 = keccak256(cid)
    artist: address = self._tracks[key].artist
    assert artist != empty(address), "registry: CID not registered"
    assert artist == msg.sender, "registry: only the track's artist may do this"
    self._tracks[key].metadata_cid = metadata_cid
    log MetadataUpdated(artist=msg.sender, cid_hash=key, cid=cid, metadata_cid=metadata_cid)


@external
@view
def artist_of(cid: String[MAX_CID]) -> address:
    """@notice The artist who registered `cid`, or the zero address."""
    return self._tracks[keccak256(cid)].artist


@external
@view
def track(cid: String[MAX_CID]) -> Track:
    return self._tracks[keccak256(cid)]


@external
@view
def track_count(artist: address) -> uint256:
    return len(self._by_artist[artist])


@external
@view
def track_by_index(artist: address, index: uint256) -> String[MAX_CID]:
    assert index < len(self._by_artist[artist]), "registry: index out of range"
    return self._by_artist[artist][index]
