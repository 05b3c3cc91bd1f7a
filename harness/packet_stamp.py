"""The wall clock stamped into a picture as black/white blocks, for glass-to-glass latency.

The test source (tests/live_relay/packet_source.py) and the live bench draw it; the fan page
check (tests/live_relay/fan_page_check.mjs --latency) reads it back from decoded frames.
"""

import numpy as np

STAMP_BITS = 48  # milliseconds since the epoch, in 48 blocks
STAMP_ROWS = 2  # blocks drawn as 2 rows of 24


def stamp_clock(planes: np.ndarray, height: int, now_ms: int, block: int) -> None:
    """Draw `now_ms` as black/white blocks across the top of a yuv420p picture.

    `planes` is PyAV's yuv420p ndarray (height * 3/2 rows: Y, then U and V packed two chroma
    rows per row). Chroma under the stamp band is made neutral so the blocks read as pure
    black and white whatever the picture's colours.
    """
    per_row = STAMP_BITS // STAMP_ROWS
    for bit in range(STAMP_BITS):
        row, col = divmod(bit, per_row)
        value = 235 if (now_ms >> (STAMP_BITS - 1 - bit)) & 1 else 16
        planes[row * block : (row + 1) * block, col * block : (col + 1) * block] = value
    chroma_rows = (STAMP_ROWS * block + 1) // 4 + 1  # stamp band / 2, two chroma rows per row
    for plane_start in (height, height + height // 4):
        planes[plane_start : plane_start + chroma_rows] = 128
