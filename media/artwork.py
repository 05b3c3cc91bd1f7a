"""Artwork checks before upload: the type is read from the bytes (not the file name), the size
is bounded, and the image is re-encoded so no EXIF, GPS, comments or other metadata of the
person's camera or editor reaches IPFS, where nothing can be taken back."""

import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from media.probe import MediaError
from media.tags import Artwork

MAX_ARTWORK_BYTES = 20 * 1024 * 1024
MAX_ARTWORK_SIDE = 6000  # pixels, each way
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class ArtworkError(MediaError, ValueError):
    """Artwork that cannot be published; str() says what is wrong and the limits."""


def read_artwork_file(path: Path) -> Artwork:
    """Artwork chosen by the person from a file, checked and cleaned by `clean_artwork`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ArtworkError(
            f"{Path(path).name}: the artwork file cannot be read ({exc.strerror})."
        ) from None
    return clean_artwork(data, Path(path).name)


def clean_artwork(data: bytes, name: str) -> Artwork:
    """`data` (the image called `name` in messages) checked and re-encoded without metadata.

    Raises MediaError with what is wrong and the limits."""
    if len(data) > MAX_ARTWORK_BYTES:
        raise ArtworkError(
            f"{name}: the artwork is {len(data) / 1024 / 1024:.1f} MB; "
            f"at most {MAX_ARTWORK_BYTES // 1024 // 1024} MB is accepted."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            kind = image.format or ""
            if kind not in FORMATS:
                raise ArtworkError(
                    f"{name}: the artwork is {'a ' + kind if kind else 'not a known'} image; "
                    "it must be a PNG, JPEG or WebP image."
                )
            width, height = image.size
            if max(width, height) > MAX_ARTWORK_SIDE:
                raise ArtworkError(
                    f"{name}: the artwork is {width}×{height} pixels; at most "
                    f"{MAX_ARTWORK_SIDE}×{MAX_ARTWORK_SIDE} is accepted."
                )
            image.load()
    except ArtworkError:
        raise
    except UnidentifiedImageError:
        raise ArtworkError(
            f"{name}: the artwork is not an image; it must be a PNG, JPEG or WebP image."
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ArtworkError(f"{name}: the artwork image is damaged ({exc}).") from None
    # Turned upright first: the EXIF orientation that said how goes with the rest.
    upright = ImageOps.exif_transpose(image)
    icc = upright.info.get("icc_profile")  # colour, not about the person: kept
    upright.info = {}  # some encoders fall back on what was read: nothing is left to fall on
    if upright.mode == "P":
        upright = upright.convert("RGBA")
    if kind == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    elif kind != "JPEG" and upright.mode not in ("RGB", "RGBA", "L", "LA"):
        upright = upright.convert("RGBA")
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 92} if kind in ("JPEG", "WEBP") else {}
    if icc:
        options["icc_profile"] = icc
    upright.save(out, format=kind, **options)  # no exif=, pnginfo=, comment=: none kept
    return Artwork(out.getvalue(), FORMATS[kind])
