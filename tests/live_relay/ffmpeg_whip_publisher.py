"""FFmpeg's own WHIP muxer (PyAV's bundled FFmpeg) publishing H.264 + an Opus tone.

Run as a separate process: the muxer's HTTP exchange and DTLS handshake happen inside
`avformat_write_header`, which PyAV calls holding the GIL, so an in-process relay could never
answer it.

    python ffmpeg_whip_publisher.py URL TOKEN [--seconds 4] [--tone 1000] [--p256-cert DIR]

--p256-cert writes a P-256 key and self-signed certificate into DIR and hands them to the
muxer (its `cert_file`/`key_file` options) instead of the key FFmpeg generates itself. Prints
`PUBLISHED {json}` on success; on failure exits 1 with FFmpeg's error on stderr.
"""

import argparse
import datetime
import fractions
import json
import math
import sys
import time
from pathlib import Path

import av
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

FPS = 30
RATE = 48000
AUDIO_STEP = 960  # 20 ms


def write_p256_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "whip-publisher")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = directory / "whip-key.pem", directory / "whip-cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def picture(index: int, width: int, height: int) -> av.VideoFrame:
    yuv = np.full((height * 3 // 2, width), 128, dtype=np.uint8)
    yuv[:height] = 110
    bar = (index * 4) % width
    yuv[:height, bar : bar + width // 16] = 200
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


def publish(args: argparse.Namespace) -> dict[str, int]:
    options = {"authorization": args.token}
    if args.p256_cert:
        key_file, cert_file = write_p256_certificate(Path(args.p256_cert))
        options.update(key_file=str(key_file), cert_file=str(cert_file))
    out = av.open(args.url, "w", format="whip", options=options)
    x264 = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "keyint=30:bframes=0"}
    video = out.add_stream("libx264", rate=FPS, options=x264)
    video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
    video.codec_context.profile = "Constrained Baseline"
    audio = out.add_stream("libopus", rate=RATE, layout="stereo")  # the muxer refuses mono
    audio.codec_context.bit_rate = 64000
    sent = {"video": 0, "audio": 0}
    start = time.monotonic()
    frame_index, sample = 0, 0
    try:
        while frame_index < args.seconds * FPS:
            # Whichever medium is due next, paced in real time as a live source is.
            if sample / RATE <= frame_index / FPS:
                t = np.arange(sample, sample + AUDIO_STEP) / RATE
                pcm = (0.5 * 32767 * np.sin(2 * math.pi * args.tone * t)).astype(np.int16)
                stereo = np.repeat(pcm, 2).reshape(1, -1)  # packed s16: L R L R ...
                frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
                frame.sample_rate, frame.pts = RATE, sample
                frame.time_base = fractions.Fraction(1, RATE)
                packets, kind, due = audio.encode(frame), "audio", sample / RATE
                sample += AUDIO_STEP
            else:
                frame = picture(frame_index, 320, 240)
                frame.pts, frame.time_base = frame_index, fractions.Fraction(1, FPS)
                packets, kind, due = video.encode(frame), "video", frame_index / FPS
                frame_index += 1
            delay = start + due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            out.mux(packets)
            sent[kind] += len(packets)
    finally:
        out.close()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--tone", type=float, default=1000.0)
    parser.add_argument("--p256-cert", default=None)
    args = parser.parse_args()
    try:
        sent = publish(args)
    except av.FFmpegError as exc:
        print(f"FFmpeg WHIP muxer failed: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"PUBLISHED {json.dumps(sent)}", flush=True)


if __name__ == "__main__":
    main()
