"""A waveform overview: min/max per column, collected while decoding, drawn as a PNG.

Media may not use Qt, so the PNG is written with numpy and zlib (RGBA, one IDAT chunk).
"""

import struct
import zlib

import numpy as np

DEFAULT_COLUMNS = 1000


class PeakCollector:
    """Min/max of the channel mix for each of `columns` equal slices of the expected length."""

    def __init__(self, expected_frames: int, columns: int = DEFAULT_COLUMNS) -> None:
        self.columns = columns
        self._per_column = max(1, expected_frames // columns + (expected_frames % columns > 0))
        self._lows = np.zeros(columns, dtype=np.float32)
        self._highs = np.zeros(columns, dtype=np.float32)
        self._seen = np.zeros(columns, dtype=bool)
        self._position = 0

    def add(self, block: np.ndarray) -> None:
        mono = block.mean(axis=1) if block.ndim == 2 else block
        index = (np.arange(len(mono)) + self._position) // self._per_column
        self._position += len(mono)
        np.minimum(index, self.columns - 1, out=index)  # the estimate may be a little short
        columns = np.unique(index)
        lows = np.minimum.reduceat(mono, np.searchsorted(index, columns))
        highs = np.maximum.reduceat(mono, np.searchsorted(index, columns))
        fresh = ~self._seen[columns]
        self._lows[columns] = np.where(fresh, lows, np.minimum(self._lows[columns], lows))
        self._highs[columns] = np.where(fresh, highs, np.maximum(self._highs[columns], highs))
        self._seen[columns] = True

    def peaks(self) -> np.ndarray:
        """(columns, 2) array of [min, max] in [-1, 1]; columns never reached are zero."""
        used = int(self._seen.nonzero()[0].max()) + 1 if self._seen.any() else 0
        out = np.zeros((max(used, 1), 2), dtype=np.float32)
        out[:used, 0] = self._lows[:used]
        out[:used, 1] = self._highs[:used]
        return np.clip(out, -1.0, 1.0)


def render_png(
    peaks: np.ndarray,
    width: int = 1000,
    height: int = 160,
    color: tuple[int, int, int] = (0x4F, 0xC3, 0xF7),
) -> bytes:
    """Draw the peaks (resampled to `width` columns) on a transparent background."""
    if len(peaks) != width:
        positions = np.linspace(0, len(peaks) - 1, width)
        peaks = np.stack(
            [
                np.interp(positions, np.arange(len(peaks)), peaks[:, 0]),
                np.interp(positions, np.arange(len(peaks)), peaks[:, 1]),
            ],
            axis=1,
        )
    middle = (height - 1) / 2
    top = np.floor(middle - peaks[:, 1] * middle).astype(int)
    bottom = np.ceil(middle - peaks[:, 0] * middle).astype(int)
    rows = np.arange(height)[:, None]
    mask = (rows >= top[None, :]) & (rows <= bottom[None, :])
    image = np.zeros((height, width, 4), dtype=np.uint8)
    image[mask] = (*color, 255)
    return encode_png(image)


def encode_png(rgba: np.ndarray) -> bytes:
    height, width, _ = rgba.shape
    raw = np.zeros((height, 1 + width * 4), dtype=np.uint8)  # filter byte 0 on each row
    raw[:, 1:] = rgba.reshape(height, width * 4)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
