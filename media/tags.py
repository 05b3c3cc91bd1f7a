"""Tags and embedded artwork (mutagen), read from every accepted format.

Three tag families cover them: ID3 (MP3, WAV, AIFF), Vorbis comments (FLAC, Ogg Vorbis,
Opus) and MP4 atoms (M4A). The studio never writes into an artist's master: edits live in
the publish queue and end up in the metadata JSON, so the file's CID stays the file's.
"""

import base64
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
from mutagen.flac import Picture
from mutagen.id3 import ID3
from mutagen.mp4 import MP4, MP4Cover

FIELDS = ("title", "artist", "album", "genre", "isrc", "release_date")

_ID3_FRAMES = {
    "title": "TIT2",
    "artist": "TPE1",
    "album": "TALB",
    "genre": "TCON",
    "isrc": "TSRC",
    "release_date": "TDRC",
}
_VORBIS_KEYS = {
    "title": "title",
    "artist": "artist",
    "album": "album",
    "genre": "genre",
    "isrc": "isrc",
    "release_date": "date",
}
_MP4_KEYS = {
    "title": "\xa9nam",
    "artist": "\xa9ART",
    "album": "\xa9alb",
    "genre": "\xa9gen",
    "isrc": "----:com.apple.iTunes:ISRC",
    "release_date": "\xa9day",
}


@dataclass(frozen=True)
class Artwork:
    data: bytes
    mime: str

    @property
    def extension(self) -> str:
        return {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}.get(
            self.mime, ".img"
        )


@dataclass
class Tags:
    title: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    isrc: str = ""
    release_date: str = ""
    artwork: Artwork | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}


def read_tags(path: Path) -> Tags:
    """Tags found in the file; missing fields are empty, the title falls back to the file name.

    A file whose tags cannot be parsed still publishes: the person gets empty fields to fill.
    """
    path = Path(path)
    tags = Tags()
    try:
        audio = mutagen.File(str(path))
    except (mutagen.MutagenError, OSError, ValueError):
        audio = None
    if audio is not None and audio.tags is not None:
        if isinstance(audio.tags, ID3):
            _from_id3(audio.tags, tags)
        elif isinstance(audio, MP4):
            _from_mp4(audio.tags, tags)
        else:
            _from_vorbis(audio, tags)
    if not tags.title:
        tags.title = path.stem
    return tags


def _text(value: object) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def _from_id3(id3: ID3, tags: Tags) -> None:
    for name, frame_id in _ID3_FRAMES.items():
        frame = id3.get(frame_id)
        if frame is not None and frame.text:
            setattr(tags, name, _text(frame.text))
    pictures = id3.getall("APIC")
    if pictures:
        front = next((p for p in pictures if p.type == 3), pictures[0])
        tags.artwork = Artwork(bytes(front.data), _mime(front.mime, front.data))


def _from_vorbis(audio: mutagen.FileType, tags: Tags) -> None:
    comments = audio.tags
    for name, key in _VORBIS_KEYS.items():
        values = comments.get(key)
        if values:
            setattr(tags, name, _text(values))
    pictures = list(getattr(audio, "pictures", []) or [])
    for encoded in comments.get("metadata_block_picture", []):
        try:
            pictures.append(Picture(base64.b64decode(encoded)))
        except (ValueError, mutagen.MutagenError):
            continue
    if pictures:
        front = next((p for p in pictures if p.type == 3), pictures[0])
        tags.artwork = Artwork(bytes(front.data), _mime(front.mime, front.data))


def _from_mp4(atoms: mutagen.mp4.MP4Tags, tags: Tags) -> None:
    for name, key in _MP4_KEYS.items():
        values = atoms.get(key)
        if values:
            setattr(tags, name, _text(values))
    covers = atoms.get("covr")
    if covers:
        cover = covers[0]
        mime = "image/png" if cover.imageformat == MP4Cover.FORMAT_PNG else "image/jpeg"
        tags.artwork = Artwork(bytes(cover), _mime(mime, bytes(cover)))


def _mime(declared: str, data: bytes) -> str:
    """Trust the bytes over the declared type: taggers often get it wrong."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return declared or "application/octet-stream"
