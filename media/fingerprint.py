"""Acoustic fingerprints of tracks: Chromaprint's raw fingerprint through its `fpcalc` tool
(Debian's libchromaprint-tools), the same one AcoustID uses.

The raw fingerprint is one 32-bit word per ~0.124 s of audio (the first two minutes by default);
the backend compares them to find the same recording uploaded by someone else.
"""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from media.probe import MediaError

FPCALC = "fpcalc"
FPCALC_TIMEOUT_S = 120


@dataclass(frozen=True)
class Fingerprint:
    duration_s: float
    raw: list[int]  # unsigned 32-bit words


def fingerprint(path: Path) -> Fingerprint | None:
    """The Chromaprint raw fingerprint of the audio file at `path`; None when the audio is too
    short for one (Chromaprint needs about 3 s). Blocking."""
    exe = shutil.which(FPCALC)
    if exe is None:
        raise MediaError(
            "Acoustic fingerprints need Chromaprint's fpcalc: install libchromaprint-tools."
        )
    try:
        done = subprocess.run(
            # -ignore-errors: fpcalc 1.5.1 with FFmpeg 5 reports the end of every file as a
            # decoding error (exit 3) after a complete fingerprint.
            [exe, "-raw", "-json", "-ignore-errors", str(path)],
            capture_output=True,
            timeout=FPCALC_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MediaError(
            f"{path.name}: its fingerprint took over {FPCALC_TIMEOUT_S} s; is the file damaged?"
        ) from None
    try:
        result = json.loads(done.stdout) if done.returncode == 0 else {}
    except ValueError:
        result = {}
    why = done.stderr.decode("utf-8", "replace").strip().splitlines()
    if not result and why and "Empty fingerprint" in why[-1]:
        return None
    if not result:
        raise MediaError(
            f"{path.name}: no acoustic fingerprint could be computed"
            f" ({why[-1] if why else f'fpcalc exited with {done.returncode}'})."
        )
    raw = [int(word) & 0xFFFFFFFF for word in result.get("fingerprint", [])]
    if not raw:
        return None
    return Fingerprint(round(float(result.get("duration", 0.0)), 3), raw)
