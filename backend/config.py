"""Backend configuration, from the command line or the embedding studio."""

from dataclasses import dataclass, field
from pathlib import Path

# Core mainnet, Core testnet, and the chain ids local devnets use (anvil/hardhat, eth-tester).
DEFAULT_CHAIN_IDS: tuple[int, ...] = (1116, 1114, 1337, 31337, 131277322940537)


@dataclass(frozen=True)
class BackendConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///harmonie-backend.db"
    redis_url: str | None = None
    data_dir: Path = Path(".")
    # The studio's own backend on loopback (`--local`): anyone on this machine may store
    # files in its content store. A hosted backend only takes files from signed-in artists.
    local: bool = False
    # Sign-In with Ethereum: the authorities (host[:port]) a message may name; empty means
    # "host:port" of this server (and localhost:port when bound to loopback).
    siwe_domains: tuple[str, ...] = ()
    chain_ids: tuple[int, ...] = DEFAULT_CHAIN_IDS
    # HS256 key for access tokens. None: a random per-process key (tokens die with the
    # process). Instances behind one load balancer must share one (HARMONIE_JWT_SECRET).
    jwt_secret: str | None = field(default=None, repr=False)
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    nonce_ttl_s: int = 10 * 60
    # Chat: history sent on join, and a per-address token bucket (burst, refill per second).
    chat_history: int = 50
    chat_burst: int = 5
    chat_rate_per_s: float = 1.0
    # Frames one WebSocket client may send: a burst, then a steady rate; a flood is cut off.
    ws_frame_burst: int = 30
    ws_frame_rate_per_s: float = 10.0
    # Open chat/notification sockets per client address on one instance (0: no cap).
    ws_max_per_client: int = 200
    # Sign-in endpoints, per client IP: a flood of nonces or signature checks is refused early.
    auth_burst: int = 60
    auth_rate_per_s: float = 2.0
    run_migrations: bool = True

    def allowed_siwe_domains(self) -> tuple[str, ...]:
        if self.siwe_domains:
            return self.siwe_domains
        domains = [f"{self.host}:{self.port}"]
        if self.host in ("127.0.0.1", "::1", "localhost"):
            domains += [f"localhost:{self.port}", f"127.0.0.1:{self.port}"]
        return tuple(dict.fromkeys(domains))
