"""`harmonie-backend --host --port --database-url`: run the backend with uvicorn;
`harmonie-backend backup PATH` / `restore PATH`: the database (backend.backup);
`harmonie-backend check-pins`: listed CIDs not pinned somewhere (backend.pin_mirror).

Instances sharing one database behind a load balancer must share HARMONIE_JWT_SECRET.
"""

import argparse
import errno
import json
import os
import socket
import sys
from pathlib import Path

from backend import __version__
from backend.config import (
    DEFAULT_CHAIN_IDS,
    MEDIA_SERVERS,
    MIB,
    BackendConfig,
    default_data_dir,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harmonie-backend",
        description="HarmonieCORE backend",
        epilog="The database: `harmonie-backend backup PATH` while it runs, and "
        "`harmonie-backend restore PATH`; the content's pins: `harmonie-backend check-pins` "
        "(each with --help).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--database-url",
        default="",
        help="SQLAlchemy URL: sqlite:///file.db or postgresql://... (default: SQLite in the "
        "data dir)",
    )
    parser.add_argument("--redis-url", default=None, help="redis://... to fan out across instances")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"ingest token, content store and devnet state (default: {default_data_dir()})",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="the studio's own backend on this machine: its content store takes files unsigned",
    )
    parser.add_argument(
        "--siwe-domain",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="domain sign-in messages must name (repeatable; default: this host:port)",
    )
    parser.add_argument(
        "--chain-id",
        action="append",
        type=int,
        default=[],
        help=f"chain id accepted at sign-in (repeatable; default: {DEFAULT_CHAIN_IDS})",
    )
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes: the program that started this backend keeps "
        "it open, so the backend ends with that program however it ends",
    )
    parser.add_argument(
        "--instance-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="lock FILE while running and write this backend's pid and port in it; refuse to "
        "start when another backend holds it (one backend per database)",
    )
    defaults = BackendConfig(data_dir=Path())
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="IP[/BITS]",
        help="a reverse proxy whose X-Forwarded-For / Forwarded names the client (repeatable)",
    )
    parser.add_argument(
        "--registry-rpc-url",
        default=os.environ.get("HARMONIE_REGISTRY_RPC_URL"),
        help="JSON-RPC node to ask who registered a CID before listing it "
        "(env HARMONIE_REGISTRY_RPC_URL)",
    )
    parser.add_argument(
        "--content-registry",
        default=os.environ.get("HARMONIE_CONTENT_REGISTRY_ADDRESS"),
        metavar="ADDRESS",
        help="the content registry contract (env HARMONIE_CONTENT_REGISTRY_ADDRESS)",
    )
    parser.add_argument(
        "--viewer-sessions-per-client",
        type=int,
        default=defaults.viewer_sessions_per_client,
        help="live playback sessions at once per client address and per account (0: no cap)",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=int,
        default=defaults.max_upload_bytes // MIB,
        help="largest file the content store takes (0: no limit)",
    )
    parser.add_argument(
        "--storage-quota-mb",
        type=int,
        default=defaults.storage_quota_bytes // MIB,
        help="content store space per signed-in account (0: no limit)",
    )
    parser.add_argument(
        "--clamd",
        default=defaults.clamd,
        metavar="SOCKET_OR_HOST:PORT",
        help="scan every stored file with ClamAV's clamd here; uploads are refused while it "
        "does not answer",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=defaults.header_timeout_s,
        help="seconds a client has to send a request's headers",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=defaults.max_connections,
        help="open connections at most (one more is answered 503)",
    )
    mail = parser.add_argument_group("email (the SMTP password only from HARMONIE_SMTP_PASSWORD)")
    mail.add_argument(
        "--smtp-host",
        default=os.environ.get("HARMONIE_SMTP_HOST"),
        help="SMTP server for email notifications (env HARMONIE_SMTP_HOST; default: no email)",
    )
    mail.add_argument(
        "--smtp-port", type=int, default=int(os.environ.get("HARMONIE_SMTP_PORT", 587))
    )
    mail.add_argument(
        "--smtp-security",
        choices=("starttls", "tls", "none"),
        default=os.environ.get("HARMONIE_SMTP_SECURITY", defaults.smtp_security),
    )
    mail.add_argument("--smtp-username", default=os.environ.get("HARMONIE_SMTP_USERNAME"))
    mail.add_argument(
        "--smtp-ca-file",
        type=Path,
        default=os.environ.get("HARMONIE_SMTP_CA_FILE") or None,
        help="PEM certificates to trust for the SMTP server (default: the system's)",
    )
    mail.add_argument(
        "--mail-from", default=os.environ.get("HARMONIE_MAIL_FROM", defaults.mail_from)
    )
    mail.add_argument(
        "--public-url",
        default=os.environ.get("HARMONIE_PUBLIC_URL", ""),
        help="this backend's address as fans reach it, for links in mails",
    )
    mail.add_argument(
        "--golive-mail-delay",
        type=float,
        default=defaults.golive_mail_delay_s,
        metavar="SECONDS",
        help="wait this long before mailing followers that a show started (none if it ended)",
    )
    mail.add_argument("--mail-rate-per-hour", type=int, default=defaults.mail_rate_per_hour)
    mail.add_argument(
        "--mail-lease", type=float, default=defaults.mail_lease_s, help=argparse.SUPPRESS
    )
    mail.add_argument(
        "--mail-retry-max", type=float, default=defaults.mail_retry_max_s, help=argparse.SUPPRESS
    )
    push = parser.add_argument_group("web push")
    push.add_argument(
        "--vapid-key-file",
        type=Path,
        default=os.environ.get("HARMONIE_VAPID_KEY_FILE") or None,
        help="the VAPID private key (PEM; env HARMONIE_VAPID_KEY_FILE; default: made at first "
        "start in the data dir). Instances behind one load balancer share one",
    )
    push.add_argument(
        "--vapid-subject",
        default=os.environ.get("HARMONIE_VAPID_SUBJECT", ""),
        help="contact push services see, mailto: or https: (env HARMONIE_VAPID_SUBJECT; "
        "default: mailto: of --mail-from)",
    )
    push.add_argument("--push-rate-per-hour", type=int, default=defaults.push_rate_per_hour)
    parser.add_argument(
        "--error-reports-dsn",
        default=os.environ.get("HARMONIE_ERROR_REPORTS_DSN", ""),
        metavar="DSN",
        help="send scrubbed error reports to this Sentry DSN (env HARMONIE_ERROR_REPORTS_DSN; "
        "default: none are sent)",
    )
    parser.add_argument(
        "--media-server",
        choices=MEDIA_SERVERS,
        default=os.environ.get("HARMONIE_MEDIA_SERVER") or defaults.media_server,
        help="who carries the live streams: the built-in relay, or Janus "
        "(env HARMONIE_MEDIA_SERVER; default: relay)",
    )
    parser.add_argument(
        "--janus-url",
        default=os.environ.get("HARMONIE_JANUS_URL"),
        metavar="URL",
        help="the Janus origin's HTTP API, e.g. http://127.0.0.1:8088/janus (env "
        "HARMONIE_JANUS_URL); its API secret, if any, only from env HARMONIE_JANUS_API_SECRET",
    )
    parser.add_argument(
        "--janus-edge",
        action="append",
        default=[],
        metavar="URL",
        help="a Janus edge's HTTP API; viewers go to the least loaded edge (repeatable; env "
        "HARMONIE_JANUS_EDGES, comma-separated)",
    )
    add_pin_mirror_argument(parser)
    parser.add_argument(
        "--reviewer",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="an address that reviews held tracks: lists them or keeps them off (repeatable; "
        "env HARMONIE_REVIEWERS, comma-separated; default: none, held tracks stay held)",
    )
    parser.add_argument("--log-level", default="info")
    return parser


def add_pin_mirror_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pin-mirror",
        action="append",
        default=[],
        metavar="URL",
        help="another IPFS node's Kubo RPC API that pins every listed CID too (repeatable; "
        "env HARMONIE_PIN_MIRRORS, comma-separated)",
    )


def _repeated(given: list[str], env: str) -> tuple[str, ...]:
    """A repeatable option's values, else its comma-separated environment variable's."""
    if given:
        return tuple(given)
    listed = os.environ.get(env, "")
    return tuple(url.strip() for url in listed.split(",") if url.strip())


def _janus_edges(args: argparse.Namespace) -> tuple[str, ...]:
    return _repeated(args.janus_edge, "HARMONIE_JANUS_EDGES")


def _port_problem(host: str, port: int) -> str | None:
    """Bind once to tell 'port in use' apart from other failures, with a human message."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"port {port} on {host} is already in use; choose another with --port"
        return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def config_from_args(args: argparse.Namespace) -> BackendConfig:
    """The configuration the arguments ask for; ValueError with a human message if invalid."""
    return BackendConfig(
        watch_loop=True,
        host=args.host,
        port=args.port,
        database_url=args.database_url,
        redis_url=args.redis_url,
        data_dir=args.data_dir or default_data_dir(),
        local=args.local,
        siwe_domains=tuple(args.siwe_domain),
        chain_ids=tuple(args.chain_id) or DEFAULT_CHAIN_IDS,
        # From the environment, never the command line (visible to every local user).
        jwt_secret=os.environ.get("HARMONIE_JWT_SECRET") or None,
        trusted_proxies=tuple(args.trusted_proxy),
        registry_rpc_url=args.registry_rpc_url,
        content_registry_address=args.content_registry,
        viewer_sessions_per_client=args.viewer_sessions_per_client,
        max_upload_bytes=args.max_upload_mb * MIB,
        storage_quota_bytes=args.storage_quota_mb * MIB,
        clamd=args.clamd,
        header_timeout_s=args.header_timeout,
        max_connections=args.max_connections,
        error_reports_dsn=args.error_reports_dsn,
        smtp_host=args.smtp_host or None,
        smtp_port=args.smtp_port,
        smtp_security=args.smtp_security,
        smtp_username=args.smtp_username or None,
        smtp_ca_file=args.smtp_ca_file,
        smtp_password=os.environ.get("HARMONIE_SMTP_PASSWORD") or None,
        mail_from=args.mail_from,
        public_url=args.public_url,
        golive_mail_delay_s=args.golive_mail_delay,
        mail_rate_per_hour=args.mail_rate_per_hour,
        mail_lease_s=args.mail_lease,
        mail_retry_max_s=args.mail_retry_max,
        vapid_key_file=args.vapid_key_file,
        vapid_subject=args.vapid_subject,
        push_rate_per_hour=args.push_rate_per_hour,
        media_server=args.media_server,
        janus_url=args.janus_url,
        janus_edges=_janus_edges(args),
        pin_mirrors=_repeated(args.pin_mirror, "HARMONIE_PIN_MIRRORS"),
        janus_api_secret=os.environ.get("HARMONIE_JANUS_API_SECRET") or None,
        reviewers=_repeated(args.reviewer, "HARMONIE_REVIEWERS"),
    )


def build_backup_parser(command: str) -> argparse.ArgumentParser:
    what = {
        "backup": "write a backup of the database to PATH (a new file)",
        "restore": "replace the database's contents with the backup at PATH",
    }[command]
    parser = argparse.ArgumentParser(prog=f"harmonie-backend {command}", description=what)
    parser.add_argument("path", type=Path, metavar="PATH")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("HARMONIE_DATABASE_URL", ""),
        help="the backend's database (env HARMONIE_DATABASE_URL; default: SQLite in the data dir)",
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    return parser


def backup_main(command: str, argv: list[str]) -> int:
    """`harmonie-backend backup PATH` / `harmonie-backend restore PATH`."""
    from backend.backup import BackupError, backup, restore

    args = build_backup_parser(command).parse_args(argv)
    config = BackendConfig(
        database_url=args.database_url, data_dir=args.data_dir or default_data_dir()
    )
    try:
        if command == "backup":
            backup(config.resolved_database_url(), args.path)
            print(f"backed up to {args.path}")
        else:
            kept = restore(config.resolved_database_url(), args.path)
            print(
                f"restored from {args.path}"
                + (f"; the previous database is kept in {kept}" if kept else "")
            )
    except (BackupError, ValueError) as exc:
        print(f"harmonie-backend {command}: {exc}", file=sys.stderr)
        return 1
    return 0


def check_pins_main(argv: list[str]) -> int:
    """`harmonie-backend check-pins`: the listed CIDs not pinned in each place, as JSON;
    exit 1 when any is missing (or a place cannot be asked), 2 on bad options."""
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from backend.content_store import ContentStore
    from backend.database import async_database_url, make_engine, make_sessions
    from backend.pin_mirror import KuboMirror, PinMirrors, check_pins, listed_cids

    parser = argparse.ArgumentParser(
        prog="harmonie-backend check-pins",
        description="report the listed CIDs that are not pinned in the content store or on "
        "each pin mirror, as JSON (exit 1 if any)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("HARMONIE_DATABASE_URL", ""),
        help="the backend's database (env HARMONIE_DATABASE_URL; default: SQLite in the data dir)",
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    add_pin_mirror_argument(parser)
    parser.add_argument(
        "--repin", action="store_true", help="first pin what a mirror lacks, then report"
    )
    args = parser.parse_args(argv)
    config = BackendConfig(
        database_url=args.database_url,
        data_dir=args.data_dir or default_data_dir(),
        pin_mirrors=_repeated(args.pin_mirror, "HARMONIE_PIN_MIRRORS"),
    )
    url = async_database_url(config.resolved_database_url())
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        print(
            f"harmonie-backend check-pins: there is no database at {url.database}", file=sys.stderr
        )
        return 2
    store_dir = config.data_dir / "ipfs"
    store = ContentStore(store_dir) if store_dir.is_dir() else None

    async def run() -> dict[str, object]:
        engine = make_engine(config.resolved_database_url())
        try:
            cids = await listed_cids(make_sessions(engine))
        finally:
            await engine.dispose()
        mirrors = [KuboMirror(url) for url in config.pin_mirrors]
        if args.repin:
            await PinMirrors(config.pin_mirrors, store).pin_all(cids)
        return await check_pins(cids, store, mirrors)

    try:
        report = asyncio.run(run())
    except (SQLAlchemyError, OSError) as exc:  # said, not a traceback
        print(f"harmonie-backend check-pins: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("backup", "restore"):
        return backup_main(argv[0], argv[1:])
    if argv and argv[0] == "check-pins":
        return check_pins_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"harmonie-backend: {exc}", file=sys.stderr)
        return 2
    if config.error_reports_dsn:
        from backend.error_reports import start_error_reports

        start_error_reports(config.error_reports_dsn, component="backend", release=__version__)
    if args.exit_with_stdin:
        from backend.lifeline import watch_parent_pipe

        watch_parent_pipe()
    if args.instance_file is not None:
        from backend.instance import AlreadyRunning, claim

        try:
            # held (never closed) until this process ends: the lock is its liveness
            claim(args.instance_file, args.port, args.database_url)
        except AlreadyRunning as exc:
            print(f"harmonie-backend: {exc}", file=sys.stderr)
            return 1
    problem = _port_problem(args.host, args.port)
    if problem:
        print(f"harmonie-backend: {problem}", file=sys.stderr)
        return 1
    import uvicorn

    from backend.app import create_app
    from backend.server import server_config

    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        app = create_app(config)
    except Exception as exc:
        print(f"harmonie-backend: cannot start: {exc}", file=sys.stderr)
        return 1
    uvicorn.Server(server_config(app, config, log_level=args.log_level)).run()
    return 0
