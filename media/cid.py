"""IPFS CIDs computed locally, exactly as `ipfs add --cid-version=1 --raw-leaves` makes them.

The layout is Kubo's and js-ipfs's default: fixed-size chunks of 262144 bytes stored as raw
leaves, gathered into a balanced tree of dag-pb nodes with at most 174 links each, each node
carrying UnixFS `File` data (filesize and the size of each child). A file of one chunk (or
none) is its own raw leaf. The builder is incremental so a file is hashed while it streams
and never held whole in memory.

Wire formats: https://ipld.io/specs/codecs/dag-pb/spec/ (links before data, canonical field
order) and the UnixFS v1 protobuf (proto2, so `blocksizes` is not packed).
"""

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CHUNK_SIZE = 262_144
MAX_LINKS = 174

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
SHA2_256 = 0x12
UNIXFS_FILE = 2


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def cid_bytes(codec: int, digest: bytes) -> bytes:
    """Binary CIDv1: version, codec, then the sha2-256 multihash."""
    return varint(1) + varint(codec) + bytes((SHA2_256, len(digest))) + digest


def cid_to_str(binary: bytes) -> str:
    """Multibase base32 (lowercase, no padding), the default text form of a CIDv1."""
    return "b" + base64.b32encode(binary).decode("ascii").lower().rstrip("=")


def cid_from_str(text: str) -> bytes:
    """Parse a base32 CIDv1 string back to bytes; raise ValueError for anything else."""
    if not text.startswith("b") or len(text) < 8:
        raise ValueError(f"{text!r} is not a base32 CIDv1")
    body = text[1:].upper()
    try:
        binary = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a base32 CIDv1") from exc
    if binary[0] != 1 or binary[1] not in (CODEC_RAW, CODEC_DAG_PB):
        raise ValueError(f"{text!r} is not a raw or dag-pb CIDv1")
    return binary


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def normalise_cid(text: str) -> str:
    """A CIDv1 in base32, whether given in base32 ('b...') or base58btc ('z...').

    Kubo answers base32 for CIDv1; js-ipfs answers base58btc unless asked otherwise.
    """
    text = text.strip()
    if text.startswith("z"):
        number = 0
        for char in text[1:]:
            index = _BASE58.find(char)
            if index < 0:
                raise ValueError(f"{text!r} is not a base58btc CID")
            number = number * 58 + index
        binary = number.to_bytes((number.bit_length() + 7) // 8, "big")
        text = cid_to_str(binary)
    cid_from_str(text)
    return text


def is_cid(text: str) -> bool:
    try:
        cid_from_str(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Node:
    """One block of the tree as its parent sees it."""

    cid: bytes
    file_size: int  # bytes of file content below this node
    tsize: int  # encoded size of this block plus all blocks below it


def _field_bytes(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


def unixfs_file_data(file_size: int, block_sizes: Iterable[int]) -> bytes:
    out = bytearray(b"\x08\x02")  # Type = File
    out += b"\x18" + varint(file_size)  # filesize
    for size in block_sizes:
        out += b"\x20" + varint(size)  # blocksizes, proto2 repeated: one tag per value
    return bytes(out)


def dag_pb_block(children: list[Node]) -> bytes:
    out = bytearray()
    for child in children:
        link = _field_bytes(0x0A, child.cid) + b"\x12\x00" + b"\x18" + varint(child.tsize)
        out += _field_bytes(0x12, link)
    out += _field_bytes(
        0x0A, unixfs_file_data(sum(c.file_size for c in children), (c.file_size for c in children))
    )
    return bytes(out)


def raw_leaf(chunk: bytes | memoryview) -> Node:
    return Node(cid_bytes(CODEC_RAW, hashlib.sha256(chunk).digest()), len(chunk), len(chunk))


def parent_node(children: list[Node]) -> tuple[Node, bytes]:
    block = dag_pb_block(children)
    cid = cid_bytes(CODEC_DAG_PB, hashlib.sha256(block).digest())
    size = sum(c.file_size for c in children)
    return Node(cid, size, len(block) + sum(c.tsize for c in children)), block


@dataclass(frozen=True)
class CidResult:
    cid: str
    size: int  # file bytes
    cumulative_size: int  # all blocks, as `ipfs files stat` reports it
    root_block: bytes | None  # the dag-pb root; None when the root is the raw leaf itself
    leaves: int


def build_tree(leaves: list[Node]) -> CidResult:
    """Balanced layout: group leaves by MAX_LINKS, then the parents, until one node is left."""
    if not leaves:
        leaves = [raw_leaf(b"")]
    if len(leaves) == 1:
        leaf = leaves[0]
        return CidResult(cid_to_str(leaf.cid), leaf.file_size, leaf.tsize, None, 1)
    level = leaves
    block = b""
    while len(level) > 1:
        parents = []
        for start in range(0, len(level), MAX_LINKS):
            node, block = parent_node(level[start : start + MAX_LINKS])
            parents.append(node)
        level = parents
    root = level[0]
    return CidResult(cid_to_str(root.cid), root.file_size, root.tsize, block, len(leaves))


class CidBuilder:
    """Feed bytes in any slices with `update`, then `result()`; memory stays at one chunk."""

    def __init__(self, chunk_size: int = CHUNK_SIZE) -> None:
        self.chunk_size = chunk_size
        self._pending = bytearray()
        self._leaves: list[Node] = []
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        view = memoryview(data)
        if self._pending:
            take = min(self.chunk_size - len(self._pending), len(view))
            self._pending += view[:take]
            view = view[take:]
            if len(self._pending) < self.chunk_size:
                return
            self._leaves.append(raw_leaf(self._pending))
            self._pending = bytearray()
        while len(view) >= self.chunk_size:
            self._leaves.append(raw_leaf(view[: self.chunk_size]))
            view = view[self.chunk_size :]
        self._pending += view

    def result(self) -> CidResult:
        leaves = list(self._leaves)
        if self._pending or not leaves:
            leaves.append(raw_leaf(bytes(self._pending)))
        return build_tree(leaves)


def bytes_cid(data: bytes, chunk_size: int = CHUNK_SIZE) -> str:
    builder = CidBuilder(chunk_size)
    builder.update(data)
    return builder.result().cid


def file_cid(path: Path | str, chunk_size: int = CHUNK_SIZE) -> CidResult:
    """The CID of a file on disk, reading it one chunk at a time into a reused buffer."""
    leaves: list[Node] = []
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    sha256 = hashlib.sha256
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buffer)
            if not n:
                break
            while n < chunk_size:  # readinto may return short reads before EOF
                more = f.readinto(view[n:])
                if not more:
                    break
                n += more
            chunk = view[:n]
            leaves.append(Node(cid_bytes(CODEC_RAW, sha256(chunk).digest()), n, n))
            if n < chunk_size:
                break
    return build_tree(leaves)
