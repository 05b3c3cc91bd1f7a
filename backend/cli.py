"""`harmonie-backend --host --port --database-url`: run the backend with uvicorn.

Instances sharing one database behind a load balancer must share HARMONIE_JWT_SECRET.
"""

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

from backend import __version__
from backend.config import DEFAULT_CHAIN_IDS, BackendConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harmonie-backend", description="HarmonieCORE backend")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--database-url",
        default="sqlite+aiosqlite:///harmonie-backend.db",
        help="SQLAlchemy URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    parser.add_argument("--redis-url", default=None, help="redis://... to fan out across instances")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("."), help="content store and devnet state"
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
    parser.add_argument("--log-level", default="info")
    return parser


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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

    config = BackendConfig(
        host=args.host,
        port=args.port,
        database_url=args.database_url,
        redis_url=args.redis_url,
        data_dir=args.data_dir,
        local=args.local,
        siwe_domains=tuple(args.siwe_domain),
        chain_ids=tuple(args.chain_id) or DEFAULT_CHAIN_IDS,
        # From the environment, never the command line (visible to every local user).
        jwt_secret=os.environ.get("HARMONIE_JWT_SECRET") or None,
    )
    try:
        app = create_app(config)
    except Exception as exc:
        print(f"harmonie-backend: cannot start: {exc}", file=sys.stderr)
        return 1
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        ws_max_size=64 * 1024,  # chat and notification frames are small; refuse floods early
        # Compressing small frames per connection costs CPU and ~256 KiB of zlib state per
        # socket: off, so one instance holds thousands of chat readers.
        ws_per_message_deflate=False,
    )
    return 0
