from studio.settings import Settings


def test_settings_round_trip(tmp_path):
    path = tmp_path / "cfg" / "settings.toml"
    settings = Settings.open(path)
    assert settings.get("profile") == "local"
    settings.set("profile", "testnet")
    settings.set("window", {"page": "library", "unset": None})
    settings.save()
    again = Settings.open(path)
    assert again.get("profile") == "testnet"
    assert again.get("window") == {"page": "library"}
    assert not list(path.parent.glob(".settings-*")), "no temp file left behind"


def test_damaged_settings_are_reported_and_never_overwritten(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("profile = [unclosed")
    settings = Settings.open(path)
    assert settings.load_error is not None
    assert str(path) in str(settings.load_error) and "damaged" in str(settings.load_error)
    assert settings.get("profile") == "local", "runs on defaults"
    settings.set("profile", "mainnet")
    settings.save()
    assert path.read_text() == "profile = [unclosed", "the person's file is left for them to fix"


def test_unreadable_settings_file(tmp_path):
    path = tmp_path / "settings.toml"
    path.mkdir()  # a directory where the file should be: reading fails
    settings = Settings.open(path)
    assert settings.read_only
    assert "cannot be read" in str(settings.load_error)
