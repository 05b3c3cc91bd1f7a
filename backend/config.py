"""Backend configuration, from the command line or the embedding studio."""

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from eth_utils import is_checksum_address

# Core mainnet, Core testnet, and the chain ids local devnets use (anvil/hardhat, eth-tester).
DEFAULT_CHAIN_IDS: tuple[int, ...] = (1116, 1114, 1337, 31337, 131277322940537)


KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30

MEDIA_SERVERS = ("relay", "janus")


def default_data_dir() -> Path:
    """Per user (e.g. ~/.local/share/harmonie-backend), never the directory it started in."""
    return platformdirs.user_data_path("harmonie-backend", appauthor=False)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class BackendConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    # "": SQLite in data_dir (backend.db). Plain `sqlite:///` and `postgresql://` URLs get
    # their async driver (backend.database.async_database_url).
    database_url: str = ""
    redis_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    # The studio's own backend on loopback (`--local`): anyone on this machine may store
    # files in its content store. A hosted backend only takes files from signed-in artists.
    local: bool = False
    # Log late turns of the event loop and dump every stack on a long stall
    # (backend.loop_watchdog): set by the command line, where the backend has its own process.
    watch_loop: bool = False
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
    # WHEP playback sessions at once per client address, and per signed-in account (0: no
    # cap); one more is answered 429 with Retry-After.
    viewer_sessions_per_client: int = 8
    viewer_retry_after_s: int = 30
    # The content store: one file at most this big (413), and each account's files together
    # at most `storage_quota_bytes` (507). 0: no limit.
    max_upload_bytes: int = 4 * GIB
    storage_quota_bytes: int = 20 * GIB
    # clamd (ClamAV) scanning every file stored: a Unix socket path or host:port. None: none.
    clamd: str | None = None
    # Request bodies of every other route (JSON, SDP): larger ones are answered 413 unread.
    max_body_bytes: int = 64 * KIB
    # A request body that stops arriving for this long is answered 408.
    body_timeout_s: float = 30.0
    # Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For / Forwarded
    # header names the real client. Empty: the connecting address is the client.
    trusted_proxies: tuple[str, ...] = ()
    # The content registry that says who owns a CID before it is listed (backend.ownership);
    # the embedded devnet's when it runs.
    registry_rpc_url: str | None = None
    content_registry_address: str | None = None
    # The server (backend.server): request headers must be whole within header_timeout_s;
    # at most max_pending_connections wait for theirs (the oldest goes first), and at most
    # max_connections are open (one more is answered 503).
    header_timeout_s: float = 10.0
    max_pending_connections: int = 256
    max_connections: int = 2048
    # Email (backend.mail): no SMTP host, no email. security: "starttls" (submission, 587),
    # "tls" (implicit TLS, 465) or "none" (a relay on this machine).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    # CA certificates (PEM) to trust for the SMTP server, e.g. a private CA; None: the system's.
    smtp_ca_file: Path | None = None
    mail_from: str = "HarmonieCORE <no-reply@localhost>"
    # Where links in mails point (unsubscribe); empty: http://host:port of this server.
    public_url: str = ""
    # "<artist> is live" waits this long and is dropped if the show ended meanwhile.
    golive_mail_delay_s: float = 120.0
    # Mails one address gets per hour at most; more wait for the next hour.
    mail_rate_per_hour: int = 20
    # SMTP connections used at once, and how long a claimed batch stays claimed.
    mail_connections: int = 4
    mail_lease_s: float = 60.0
    # Longest wait between retries while the SMTP server is unreachable.
    mail_retry_max_s: float = 60.0
    # An address refused (5xx at RCPT) this many times gets no more mail until it changes.
    mail_bounce_limit: int = 3
    # Web Push (backend.web_push). The VAPID key (PEM): None keeps one in data_dir, made at
    # first start; instances behind one load balancer must share one file. The subject is
    # the contact push services see (mailto: or https:); empty: mailto: of mail_from.
    vapid_key_file: Path | None = None
    vapid_subject: str = ""
    # Pushes one browser subscription gets per hour at most; more wait for the next hour.
    push_rate_per_hour: int = 20
    push_lease_s: float = 60.0
    push_retry_max_s: float = 300.0
    # Subscriptions whose endpoint is http://127.0.0.1 (a test push service); always allowed
    # with `local`. A hosted backend only pushes to https endpoints.
    push_allow_http_loopback: bool = False
    # Opt-in error reports (backend.error_reports): a Sentry DSN; empty sends nothing.
    error_reports_dsn: str = field(default="", repr=False)
    # Who carries the media: the built-in relay (one process), or Janus: an origin whose
    # VideoRoom takes the artists' WHIP publishes and, optionally, edges whose Streaming
    # mountpoints serve the viewers (HTTP API URLs, e.g. http://janus:8088/janus).
    media_server: str = "relay"
    janus_url: str | None = None
    janus_edges: tuple[str, ...] = ()
    # Addresses that review held tracks (backend.review): list them or keep them off. Empty:
    # nobody, and a held track stays held.
    reviewers: tuple[str, ...] = ()
    janus_api_secret: str | None = field(default=None, repr=False)

    # Other IPFS nodes (Kubo RPC API URLs) that pin every listed CID too (backend.pin_mirror).
    pin_mirrors: tuple[str, ...] = ()

    # Analytics (backend.analytics): live shows' viewer counts are sampled this often, and
    # play reports are limited per client address (a burst, then a steady rate).
    viewer_sample_s: float = 10.0
    play_burst: int = 30
    play_rate_per_s: float = 0.5

    def __post_init__(self) -> None:
        if self.media_server not in MEDIA_SERVERS:
            raise ValueError(
                f"media server {self.media_server!r} is not one of {', '.join(MEDIA_SERVERS)}"
            )
        if self.media_server == "janus" and not self.janus_url:
            raise ValueError("--media-server janus needs the origin's API URL: --janus-url URL")
        for url in filter(None, (self.janus_url, *self.janus_edges)):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"Janus URL {url!r} is not an http(s) URL of Janus's HTTP API "
                    "(e.g. http://127.0.0.1:8088/janus)"
                )
        if self.local and not is_loopback(self.host):
            raise ValueError(
                f"--local takes files from anyone who can connect, so it only runs on a "
                f"loopback address (127.0.0.1, ::1, localhost), not on {self.host}"
            )
        for reviewer in self.reviewers:
            if not is_checksum_address(reviewer):
                raise ValueError(
                    f"reviewer {reviewer!r} is not a checksummed address (0x and 40 hex digits, "
                    "mixed case as a wallet shows it)"
                )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {proxy!r} is not an IP address or network (CIDR)"
                ) from None

        if self.smtp_security not in ("starttls", "tls", "none"):
            raise ValueError(
                f"SMTP security {self.smtp_security!r} is not one of starttls, tls, none"
            )

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'backend.db'}"

    def link_base(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def allowed_siwe_domains(self) -> tuple[str, ...]:
        if self.siwe_domains:
            return self.siwe_domains
        domains = [f"{self.host}:{self.port}"]
        if self.host in ("127.0.0.1", "::1", "localhost"):
            domains += [f"localhost:{self.port}", f"127.0.0.1:{self.port}"]
        return tuple(dict.fromkeys(domains))
