"""When the ingest refuses our video codec: publish in the other one, keep recording.

The recording cannot follow a codec change: a file's video stream has one codec, so switching
would mean a second file and a cut. So the session switches like this:

- recording: the recorder keeps the encoder it started with (one file, no gap), and a second
  encoder in the other codec feeds the publisher. Every picture is then encoded twice, which
  costs CPU for the rest of the show; that is the price of an ingest that refuses our codec.
- not recording: the pipeline's one encoder is replaced by one in the other codec (still
  encode once).

`switch_video_codec` installs either on a running `LivePipeline`: its video thread reads
`pipeline.video_encoder` at every tick, so the swap takes effect at the next picture. When
the pipeline already encodes the other codec for another output (the RTMP restream's H.264
beside a VP8 show), the publisher shares that encoder instead of adding one.
"""

from dataclasses import replace

import av

from media.encoder import VideoEncoder, VideoSettings, available_video_codecs
from media.pipeline import LivePipeline

CODEC_LABELS = {"vp8": "VP8", "h264": "H.264"}


def other_video_codec(codec: str) -> str | None:
    """The codec to fall back to (VP8 <-> H.264), None when this build cannot encode it."""
    other = {"vp8": "h264", "h264": "vp8"}.get(codec.lower())
    return other if other in available_video_codecs() else None


def is_codec_refusal(error: BaseException | None) -> bool:
    return type(error).__name__ == "WhipNoCommonCodec"


class TeeVideoEncoder:
    """Encodes each picture with the recording's encoder and with the publisher's.

    Looks like the recording's encoder to the pipeline (settings, stats, packets); the
    publisher subscribes to `publish.packets`.
    """

    def __init__(self, record: VideoEncoder, publish: VideoEncoder) -> None:
        self.record = record
        self.publish = publish

    def encode(self, frame: av.VideoFrame, index: int) -> list[av.Packet]:
        packets = self.record.encode(frame, index)
        self.publish.encode(frame, index)
        return packets

    def flush(self) -> list[av.Packet]:
        self.publish.flush()
        return self.record.flush()

    def reconfigure(self, settings: VideoSettings) -> list[av.Packet]:
        """A step-down reaches both encodes (each in its own codec)."""
        self.publish.reconfigure(replace(settings, codec=self.publish.codec_name))
        return self.record.reconfigure(settings)

    def __getattr__(self, name: str) -> object:
        return getattr(self.record, name)


def switch_video_codec(pipeline: LivePipeline, codec: str, keep_current: bool) -> VideoEncoder:
    """Start encoding pictures in `codec` for the publisher; returns that encoder.

    keep_current: the current encoder goes on too (the recorder is subscribed to it).
    """
    spare = next((e for e in pipeline.side_video_encoders if e.codec_name == codec), None)
    if spare is not None:  # already encoded for another output (the restream's H.264): share it
        if not keep_current:
            # Off the side list first: a picture is never encoded twice by one encoder.
            pipeline.side_video_encoders.remove(spare)
            pipeline.video_encoder = spare
        return spare
    current = pipeline.video_encoder
    assert current is not None
    if isinstance(current, TeeVideoEncoder):
        current = current.record
    publish = VideoEncoder(replace(current.settings, codec=codec))  # same picture, other codec
    pipeline.video_encoder = TeeVideoEncoder(current, publish) if keep_current else publish  # type: ignore[assignment]
    return publish
