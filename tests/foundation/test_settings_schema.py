"""The settings schema (Qt-free): every field's example parses, bad values are refused with a
reason, dotted keys read and write the TOML, and hand edits are taken up."""

import tomllib

import pytest

from studio.profiles import load_profile
from studio.settings import Settings
from studio.settings_schema import (
    GLOBAL_FIELDS,
    GROUPS,
    InvalidSetting,
    field_for_key,
    fields_for,
    live_overrides,
    profile_fields,
    recording_defaults,
)


def test_every_field_has_a_group_and_a_valid_example() -> None:
    fields = fields_for("local")
    assert {f.group for f in fields} == set(GROUPS), "every page has settings"
    assert len({f.key for f in fields}) == len(fields)
    for field in fields:
        assert field.example, field.key
        value = field.parse(field.example)
        assert field.parse(field.format(value)) == value, f"{field.key} formats back"


def test_every_key_the_studio_reads_is_described() -> None:
    keys = {f.key for f in fields_for("local")}
    read_by_the_studio = {
        "profile", "artist_name", "whip_url", "ipfs_api_url", "ipfs_gateway_url",
        "wallet_address", "tips.fiat_per_coin", "tips.fiat_currency", "mint_nft",
        "nft_royalty_bps", "rendition_format", "tip_sound", "tip_overlay",
    }  # fmt: skip
    assert read_by_the_studio <= keys
    profile_file_keys = {"backend_url", "ipfs_api_url", "ice_servers"}
    chain_keys = {"name", "chain_id", "rpc_url", "explorer_url", "confirmations", "contracts"}
    assert {f"profiles.local.{k}" for k in profile_file_keys} <= keys
    assert {f"profiles.local.chain.{k}" for k in chain_keys} <= keys


@pytest.mark.parametrize(
    ("key", "text", "reason"),
    [
        ("video.bitrate_kbps", "fast", "not a whole number"),
        ("video.bitrate_kbps", "5", "between 100 and 50000"),
        ("video.width", "1281", "even number"),
        ("video.fps", "2.5", "not a whole number"),
        ("video.keyframe_interval_s", "nan", "not a number"),
        ("audio.bitrate_kbps", "9000", "between 16 and 510"),
        ("whip_url", "ftp://example.org/whip", "http: or https:"),
        ("whip_url", "http://", "no host"),
        ("whip_url", "https://host:port/whip", "not a valid URL"),
        ("ipfs_gateway_url", "ipfs.io", "http: or https:"),
        ("profile", "staging", "Choose local, testnet, mainnet"),
        ("profile", "/nowhere/mine.toml", "does not exist"),
        ("wallet_address", "0x1234", "40 hexadecimal digits"),
        ("wallet_address", "0x52908400098527886E0F7030069857D2E4169Ee7", "capital letters"),
        ("tips.fiat_per_coin", "cheap", "not a number"),
        ("tips.fiat_per_coin", "-1", "more than 0"),
        ("tips.fiat_currency", "€uro!", "currency code"),
        ("nft_royalty_bps", "6000", "between 0 and 5000"),  # the NFT contract caps it at 50 %
        ("mint_nft", "maybe", "yes or no"),
        ("rendition_format", "flac", "Choose one of opus, mp3, none"),
        ("recording.folder", "videos", "full path"),
        ("artist_name", "two\nlines", "one line"),
        ("profiles.local.backend_url", "localhost:8000", "http: or https:"),
        ("profiles.local.ice_servers", "stun:a.org, http://b.org", "stun: or turn: or turns:"),
        ("profiles.local.chain.chain_id", "0", "between 1"),
        ("profiles.local.chain.confirmations", "-1", "between 0 and 100"),
        ("profiles.local.chain.contracts", "registry 0x12", "name=0x"),
        ("profiles.local.chain.contracts", "registry=0x12", "registry: An address"),
    ],
)
def test_bad_values_are_refused_with_the_reason(key: str, text: str, reason: str) -> None:
    field = field_for_key(key, "local")
    with pytest.raises(InvalidSetting) as refused:
        field.parse(text)
    assert reason in str(refused.value)


def test_a_file_in_the_way_of_the_recording_folder_is_refused(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidSetting, match="is a file, not a folder"):
        field_for_key("recording.folder", "local").parse(str(tmp_path / "file"))


def test_empty_means_the_default_and_removes_the_key(tmp_path) -> None:
    settings = Settings(tmp_path / "settings.toml")
    field = field_for_key("video.fps", "local")
    field.write(settings, field.parse("25"))
    settings.save()
    assert tomllib.loads(settings.path.read_text())["video"] == {"fps": 25}
    field.write(settings, field.parse("   "))
    settings.save()
    assert "video" not in tomllib.loads(settings.path.read_text()), "no empty table left"


def test_profile_overrides_written_by_the_schema_make_the_profile(tmp_path) -> None:
    settings = Settings(tmp_path / "settings.toml")
    for key, text in (
        ("profiles.testnet.backend_url", "https://harmonie.example.org"),
        ("profiles.testnet.ice_servers", "stun:stun.example.org:3478, turn:t.example.org"),
        ("profiles.testnet.chain.confirmations", "5"),
        ("profiles.testnet.chain.contracts", "registry=0x" + "ab" * 20),
    ):
        field = field_for_key(key, "testnet")
        field.write(settings, field.parse(text))
    settings.save()
    again = Settings.open(settings.path)
    profile = load_profile("testnet", again.profile_overrides("testnet"))
    assert profile.backend_url == "https://harmonie.example.org"
    assert profile.ice_servers == ("stun:stun.example.org:3478", "turn:t.example.org")
    assert profile.chain.confirmations == 5
    assert profile.chain.contracts["registry"].lower() == "0x" + "ab" * 20


def test_a_profile_file_path_is_one_key(tmp_path) -> None:
    custom = tmp_path / "my.profile.toml"
    custom.write_text('base = "testnet"\n')
    settings = Settings(tmp_path / "settings.toml")
    field = next(f for f in profile_fields(str(custom)) if f.key.endswith(".backend_url"))
    field.write(settings, "https://b.example.org")
    settings.save()
    again = Settings.open(settings.path)
    assert again.profile_overrides(str(custom)) == {"backend_url": "https://b.example.org"}
    assert load_profile(str(custom), again.profile_overrides(str(custom))).backend_url == (
        "https://b.example.org"
    )


def test_go_live_takes_the_video_audio_and_recording_settings(tmp_path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        "[video]\nwidth = 640\nheight = 360\nfps = 24\nbitrate_kbps = 900\n"
        "keyframe_interval_s = 1.5\nauto_step_down = true\n[audio]\nbitrate_kbps = 96\n"
        f'[recording]\nenabled = false\nfolder = "{tmp_path}"\n'
    )
    settings = Settings.open(path)
    assert live_overrides(settings) == {
        "width": 640, "height": 360, "fps": 24, "video_bitrate": 900_000,
        "keyframe_interval_s": 1.5, "auto_step_down": True, "audio_bitrate": 96_000,
    }  # fmt: skip
    assert recording_defaults(settings) == (False, tmp_path / "harmonie-live.mkv")


def test_a_bad_hand_edit_is_not_used(tmp_path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[video]\nfps = 500\nbitrate_kbps = "fast"\nwidth = 800\n')
    assert live_overrides(Settings.open(path)) == {"width": 800}, "the defaults apply instead"


def test_reload_takes_up_a_hand_edit_and_keeps_the_window(tmp_path) -> None:
    path = tmp_path / "settings.toml"
    settings = Settings.open(path)
    settings.set("window", {"page": "library"})
    path.write_text('artist_name = "By hand"\n')
    settings.reload()
    assert settings.get("artist_name") == "By hand"
    assert settings.get("window") == {"page": "library"}, "the studio's own state stays"
    path.write_text("artist_name = [broken")
    settings.reload()
    assert settings.read_only and "damaged" in str(settings.load_error)


def test_global_fields_are_not_profile_keys() -> None:
    assert not any(f.key.startswith("profiles.") for f in GLOBAL_FIELDS)


def test_the_command_line_sets_and_refuses_as_the_window_does(tmp_path) -> None:
    import os
    import subprocess

    from studio import paths
    from tests.support.studio_process import studio_command

    def studio(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*studio_command(), "settings", *args], capture_output=True, text=True, timeout=60
        )

    done = studio("video.bitrate_kbps", "3000")
    assert done.returncode == 0 and "next Go Live" in done.stdout, done.stderr
    refused = studio("whip_url", "ftp://nowhere")
    assert refused.returncode == 2 and "whip_url: Use a URL that starts with http:" in (
        refused.stderr
    )
    path = paths.config_dir() / "settings.toml"
    assert os.environ["XDG_CONFIG_HOME"] in str(path)
    assert tomllib.loads(path.read_text())["video"] == {"bitrate_kbps": 3000}
    assert "whip_url" not in tomllib.loads(path.read_text())
    listing = studio()
    assert "video.bitrate_kbps = 3000" in listing.stdout
    assert "profiles.local.chain.rpc_url = " in listing.stdout
    assert studio("video.bitrate_kbps").stdout.strip() == "3000"
    assert studio("video.bitrate_kbps", "").returncode == 0
    assert "video" not in tomllib.loads(path.read_text())
