import pytest

from studio.errors import ProfileError
from studio.profiles import EMBEDDED, load_profile


def test_local_is_embedded_and_core_networks_have_their_chain_ids():
    local = load_profile("local")
    assert local.embedded_backend and local.chain.rpc_url == EMBEDDED
    assert load_profile("testnet").chain.chain_id == 1114
    assert load_profile("mainnet").chain.chain_id == 1116
    assert local.ice_servers == (), "no silent public STUN server"


def test_unknown_profile_names_the_choices():
    with pytest.raises(ProfileError, match=r"Unknown profile 'stage'.*local, testnet, mainnet"):
        load_profile("stage")


def test_settings_override_a_builtin_profile():
    profile = load_profile("testnet", {"backend_url": "https://api.example.org"})
    assert profile.backend_url == "https://api.example.org"
    assert profile.chain.chain_id == 1114


def test_custom_profile_file(tmp_path):
    path = tmp_path / "studio-b.toml"
    path.write_text(
        'base = "testnet"\nbackend_url = "https://b.example.org"\n'
        'ice_servers = ["stun:stun.example.org"]\n'
        '[chain]\nrpc_url = "http://127.0.0.1:8545"\ncontracts = { Tipping = "0xabc" }\n'
    )
    profile = load_profile(str(path))
    assert profile.name == "studio-b"
    assert profile.backend_url == "https://b.example.org"
    assert profile.chain.rpc_url == "http://127.0.0.1:8545"
    assert profile.chain.chain_id == 1114
    assert profile.chain.contracts == {"Tipping": "0xabc"}
    assert profile.ice_servers == ("stun:stun.example.org",)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("backend_url = ", "not valid TOML"),
        ("colour = 'red'", "unknown profile keys colour"),
        ("[chain]\nspeed = 3", "unknown profile keys chain.speed"),
        ("base = 'moon'", "'base' must be one of"),
    ],
)
def test_bad_profile_files_are_refused_clearly(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message):
        load_profile(str(path))


def test_missing_profile_file(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(str(tmp_path / "nope.toml"))
