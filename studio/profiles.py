"""Profiles: which backend, chain and content store the studio talks to.

A profile is configuration, not code. `local` needs nothing installed: the studio starts its
own backend (which serves the devnet chain and the content store). `testnet` and `mainnet`
point at Core's public RPC; their backend and IPFS endpoints come from the user's settings or
a custom profile file (TOML), because no hosted service is assumed.
"""

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chain.networks import CORE_MAINNET, CORE_TESTNET, LOCAL_DEVNET, Network
from studio.errors import ProfileError

EMBEDDED = "embedded"


@dataclass(frozen=True)
class ChainConfig:
    name: str
    chain_id: int | None  # None: whatever the devnet reports (eth-tester's id cannot be set)
    rpc_url: str  # "embedded" for the devnet the local backend serves
    explorer_url: str | None = None
    confirmations: int = 1
    contracts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, network: Network) -> "ChainConfig":
        """The configuration of a network chain/networks.py defines (defined once, there)."""
        return cls(
            name=network.name,
            chain_id=network.chain_id,
            rpc_url=network.rpc_url,
            explorer_url=network.explorer_url,
            confirmations=network.confirmations,
            contracts=dict(network.contracts),
        )


@dataclass(frozen=True)
class Profile:
    name: str
    backend_url: str  # "embedded": the studio starts harmonie-backend itself; "" not configured
    chain: ChainConfig
    ipfs_api_url: str  # "embedded": the backend's content store; otherwise a Kubo RPC URL
    ice_servers: tuple[str, ...] = ()  # explicit, never a silent public STUN fallback

    @property
    def embedded_backend(self) -> bool:
        return self.backend_url == EMBEDDED


LOCAL = Profile(
    name="local",
    backend_url=EMBEDDED,
    chain=ChainConfig(name=LOCAL_DEVNET.name, chain_id=None, rpc_url=EMBEDDED),
    ipfs_api_url=EMBEDDED,
)

TESTNET = Profile(
    name="testnet",
    backend_url="",
    chain=ChainConfig.of(CORE_TESTNET),
    ipfs_api_url="",
)

MAINNET = Profile(
    name="mainnet",
    backend_url="",
    chain=ChainConfig.of(CORE_MAINNET),
    ipfs_api_url="",
)

BUILTIN_PROFILES: dict[str, Profile] = {p.name: p for p in (LOCAL, TESTNET, MAINNET)}


def load_profile(name_or_path: str, overrides: dict[str, Any] | None = None) -> Profile:
    """A built-in profile by name, or a custom one from a TOML file.

    `overrides` are the user's settings for this profile (backend_url, ipfs_api_url, ...).
    """
    if name_or_path in BUILTIN_PROFILES:
        profile = BUILTIN_PROFILES[name_or_path]
    elif name_or_path.endswith(".toml") or "/" in name_or_path:
        profile = _profile_from_file(Path(name_or_path))
    else:
        known = ", ".join(BUILTIN_PROFILES)
        raise ProfileError(
            f"Unknown profile '{name_or_path}'. Choose one of {known}, "
            "or give the path to a profile .toml file."
        )
    return _apply(profile, overrides or {})


def _profile_from_file(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"Profile file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"Profile file {path} cannot be read: {exc}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"Profile file {path} is not valid TOML: {exc}.") from None
    base_name = data.pop("base", "local")
    if base_name not in BUILTIN_PROFILES:
        raise ProfileError(
            f"Profile file {path}: 'base' must be one of {', '.join(BUILTIN_PROFILES)}."
        )
    base = replace(BUILTIN_PROFILES[base_name], name=data.pop("name", path.stem))
    return _apply(base, data, source=str(path))


_PROFILE_KEYS = {"backend_url", "ipfs_api_url", "ice_servers"}
_CHAIN_KEYS = {"name", "chain_id", "rpc_url", "explorer_url", "confirmations", "contracts"}


def _apply(profile: Profile, values: dict[str, Any], source: str = "settings") -> Profile:
    values = dict(values)
    chain_values = values.pop("chain", {}) or {}
    unknown = set(values) - _PROFILE_KEYS - {"name"}
    unknown |= {f"chain.{k}" for k in set(chain_values) - _CHAIN_KEYS}
    if unknown:
        raise ProfileError(f"{source}: unknown profile keys {', '.join(sorted(unknown))}.")
    if "ice_servers" in values:
        values["ice_servers"] = tuple(values["ice_servers"])
    values.pop("name", None)
    try:
        chain = replace(profile.chain, **chain_values)
        return replace(profile, chain=chain, **values)
    except TypeError as exc:  # pragma: no cover - guarded by the key checks above
        raise ProfileError(f"{source}: {exc}") from None
