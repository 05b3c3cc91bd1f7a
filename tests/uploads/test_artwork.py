"""Artwork before upload: the type read from the bytes, bounded size, metadata stripped by
re-encoding; bad artwork fails its track with a clear reason and loses nothing."""

import io
import json
import uuid
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from media.artwork import MAX_ARTWORK_BYTES, ArtworkError, clean_artwork, read_artwork_file
from studio.publishing.ipfs_client import KuboClient
from studio.publishing.publisher import WAITING_NO_WALLET, Publisher
from studio.publishing.upload_queue import State, UploadQueue
from tests.uploads.audio import make_audio

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo_with_exif(size: tuple[int, int] = (40, 20), orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it: camera, GPS position, rotation in EXIF, a comment."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 12"  # Model
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"shot at home")
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe, 12 Home Street")
    out = io.BytesIO()
    Image.new("RGBA", (16, 16), (0, 255, 0, 128)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


@pytest.fixture
def queue(tmp_path: Path):  # type: ignore[no-untyped-def]
    q = UploadQueue(tmp_path / "queue.sqlite3")
    yield q
    q.close()


def test_exif_gps_and_comments_are_stripped_and_the_photo_is_turned_upright() -> None:
    original = photo_with_exif()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test's premise
    cleaned = clean_artwork(original, "cover.jpg")
    image = Image.open(io.BytesIO(cleaned.data))
    assert cleaned.mime == "image/jpeg" and image.format == "JPEG"
    assert "exif" not in image.info and "comment" not in image.info
    assert dict(image.getexif()) == {}
    assert b"PhoneMaker" not in cleaned.data and b"shot at home" not in cleaned.data
    assert image.size == (20, 40)  # orientation 6 applied before the tag went


def test_type_is_read_from_the_bytes_and_png_text_is_stripped(tmp_path: Path) -> None:
    misnamed = tmp_path / "cover.jpg"
    misnamed.write_bytes(png_with_text())
    artwork = read_artwork_file(misnamed)
    assert artwork.mime == "image/png" and artwork.extension == ".png"
    image = Image.open(io.BytesIO(artwork.data))
    assert image.mode == "RGBA" and "Author" not in image.info
    assert b"Jane Doe" not in artwork.data


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"GIF89a" + b"\0" * 100, "the artwork is not an image; it must be a PNG, JPEG or WebP"),
        (photo_with_exif()[:300], "the artwork image is damaged"),
        (
            b"\x89PNG" + b"\0" * MAX_ARTWORK_BYTES,
            r"the artwork is 20\.0 MB; at most 20 MB is accepted",
        ),
    ],
)
def test_bad_artwork_gets_a_clear_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ArtworkError, match=r"^cover\.png: " + reason):
        clean_artwork(data, "cover.png")


def test_a_gif_and_too_many_pixels_are_refused_with_the_limits() -> None:
    gif = io.BytesIO()
    Image.new("P", (4, 4)).save(gif, format="GIF")
    with pytest.raises(ArtworkError, match="is a GIF image; it must be a PNG, JPEG or WebP"):
        clean_artwork(gif.getvalue(), "cover.gif")
    wide = io.BytesIO()
    Image.new("L", (6001, 10)).save(wide, format="PNG")
    with pytest.raises(ArtworkError, match="6001×10 pixels; at most 6000×6000 is accepted"):
        clean_artwork(wide.getvalue(), "wide.png")


async def test_damaged_artwork_fails_its_track_then_a_new_choice_goes_on(
    backend, queue: UploadQueue, tmp_path: Path
) -> None:
    path = make_audio(tmp_path, "flac", seconds=1.0, title=f"art {uuid.uuid4().hex}")
    broken = tmp_path / "cover.jpg"
    broken.write_bytes(photo_with_exif()[:300])
    (track,), _ = queue.add([path])
    queue.edit(track.id, title="Kept title", artwork_path=str(broken))
    async with KuboClient(backend.url) as ipfs:
        publisher = Publisher(queue, ipfs, tmp_path / "work", rendition=None)
        (failed,) = await publisher.run()
        assert failed.state is State.FAILED
        assert failed.detail.startswith("cover.jpg: the artwork image is damaged")
        assert queue.get(track.id).fields["title"] == "Kept title"  # nothing lost

        good = tmp_path / "photo.jpg"
        good.write_bytes(photo_with_exif())
        queue.edit(track.id, artwork_path=str(good))
        queue.retry(track.id)
        (waiting,) = await publisher.run()
        assert waiting.state is State.WAITING and waiting.detail == WAITING_NO_WALLET
        uploaded = await ipfs.cat(waiting.outputs["artwork_cid"])
        document = json.loads(await ipfs.cat(waiting.outputs["metadata_cid"]))
    assert document["image"] == f"ipfs://{waiting.outputs['artwork_cid']}"
    assert dict(Image.open(io.BytesIO(uploaded)).getexif()) == {}
    assert b"PhoneMaker" not in uploaded


async def test_artwork_chosen_after_the_upload_is_checked_and_reaches_the_metadata(
    backend, queue: UploadQueue, tmp_path: Path
) -> None:
    path = make_audio(tmp_path, "flac", seconds=1.0, tagged=False, name=uuid.uuid4().hex)
    (track,), _ = queue.add([path])
    async with KuboClient(backend.url) as ipfs:
        publisher = Publisher(queue, ipfs, tmp_path / "work", rendition=None)
        (first,) = await publisher.run()
        assert first.state is State.WAITING and "artwork_cid" not in first.outputs
        photo = tmp_path / "late.jpg"
        photo.write_bytes(photo_with_exif())
        queue.edit(track.id, artwork_path=str(photo))
        (again,) = await publisher.run()
        assert again.state is State.WAITING, again.detail
        uploaded = await ipfs.cat(again.outputs["artwork_cid"])
        document = json.loads(await ipfs.cat(again.outputs["metadata_cid"]))
    assert document["image"] == f"ipfs://{again.outputs['artwork_cid']}"
    assert b"PhoneMaker" not in uploaded and Image.open(io.BytesIO(uploaded)).size == (20, 40)
