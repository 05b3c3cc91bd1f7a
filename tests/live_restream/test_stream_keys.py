"""Stream keys in the real OS keyring (gnome-keyring on a private bus): a typed key is kept,
a missing one is read back, a bad destination is a sentence and the others go on."""

from keyring.backends import fail

from media.rtmp_output import RtmpDestination
from studio.live.restream import StreamKeyVault, with_stream_keys


def test_typed_keys_are_kept_and_missing_ones_read_back(stream_keys: StreamKeyVault) -> None:
    ready, problems = with_stream_keys(
        [
            RtmpDestination("YouTube", "rtmp://a.rtmp.youtube.com/live2", "typed"),
            RtmpDestination("Twitch", "rtmp://live.twitch.tv/app"),
            RtmpDestination("Custom", "https://example.org/live"),
            RtmpDestination("Mine", ""),
        ],
        stream_keys,
    )
    assert [d.name for d in ready] == ["YouTube"]
    assert stream_keys.key("youtube") == "typed"
    assert problems == [
        "Not restreaming to Twitch: no stream key: paste it in Go Live (it is kept safe)",
        "Not restreaming to Custom: 'https://example.org/live' is not an RTMP server URL: "
        "use rtmp://host/app or rtmps://…",
        "Not restreaming to Mine: no server URL: give its rtmp://host/app address",
    ]
    ready, problems = with_stream_keys(
        [
            RtmpDestination("YouTube", "rtmp://a.rtmp.youtube.com/live2"),
            RtmpDestination("Custom", "rtmp://live.example.org/app/key-in-url"),
        ],
        stream_keys,
    )
    assert problems == []
    assert ready[0].key == "typed" and ready[0].target.endswith("/live2/typed")
    assert ready[1].key == "" and ready[1].target == "rtmp://live.example.org/app/key-in-url"
    assert "typed" not in repr(ready)


def test_without_a_keyring_a_typed_key_serves_this_show() -> None:
    vault = StreamKeyVault(backend=fail.Keyring())
    ready, problems = with_stream_keys(
        [RtmpDestination("Twitch", "rtmp://live.twitch.tv/app", "only-now")], vault
    )
    assert [d.key for d in ready] == ["only-now"]
    assert len(problems) == 1
    assert problems[0].startswith("The Twitch key is used for this show only")
    assert "only-now" not in problems[0]
