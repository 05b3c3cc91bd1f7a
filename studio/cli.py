"""Command line: `harmonie-studio [--profile P]` opens the window; subcommands run headless.

Headless commands sit on the same `Studio` core as the window. Later journeys add their
own subcommands here (`live`, `publish`, ...), each a function `run_<name>(args) -> int`.
"""

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from studio import __version__, paths
from studio.core import Studio
from studio.errors import StudioError
from studio.live.cli import add_live_parser, run_live
from studio.logs import setup_logging
from studio.profiles import Profile, load_profile
from studio.publishing.cli import add_publish_parser, run_publish
from studio.settings import Settings
from studio.settings_cli import add_settings_parser, run_settings

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harmonie-studio",
        description="HarmonieCORE Studio: go live, publish tracks and get tipped.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--profile",
        default=None,
        help="local (default), testnet, mainnet, or the path to a profile .toml file",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    status = sub.add_parser(
        "status", help="start the profile's services, print their status as JSON"
    )
    status.add_argument("--keep", type=float, default=0.0, help="seconds to keep running first")
    add_live_parser(sub)
    add_publish_parser(sub)
    add_settings_parser(sub)
    export = sub.add_parser(
        "export", help="write the studio's data (queue, tips, settings, scenes) to an archive"
    )
    export.add_argument("path", type=Path, help="the archive to write (must not exist yet)")
    take = sub.add_parser(
        "import", help="replace the studio's data with an archive's (keys are never in one)"
    )
    take.add_argument("path", type=Path, help="an archive made by `harmonie-studio export`")
    # Listed for --help only: widgets.main hands `backend ...` to backend.cli before parsing.
    sub.add_parser("backend", help="run the backend (the options of harmonie-backend)")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def open_settings() -> Settings:
    return Settings.open(paths.config_dir() / "settings.toml")


def resolve_profile(args: argparse.Namespace, settings: Settings) -> Profile:
    name = args.profile or settings.get("profile", "local")
    return load_profile(name, settings.profile_overrides(name))


async def run_status(args: argparse.Namespace, studio: Studio) -> int:
    try:
        await studio.start()
        if args.keep:
            await asyncio.sleep(args.keep)
        print(json.dumps({"status": studio.status.as_dict(), "health": studio.health}))
        return 0 if studio.status.backend in ("connected", "not configured") else 1
    finally:
        await studio.stop()


HEADLESS_COMMANDS = {"status": run_status, "live": run_live, "publish": run_publish}


def run_archive(args: argparse.Namespace, settings: Settings) -> int:
    """`export PATH` / `import PATH`: the studio's own data, no services started."""
    from studio.archive import ArchiveError, export_studio, import_studio

    data = paths.data_dir()
    try:
        if args.command == "export":
            done = export_studio(args.path, settings, data)
            print(f"Exported {done.describe()} to {done.path}.")
        else:
            done = import_studio(args.path, settings, data)
            print(
                f"Imported {done.describe()} from {done.path}. "
                f"What was there before is kept in {done.kept}."
            )
    except ArchiveError as exc:
        print(f"harmonie-studio: {exc}", file=sys.stderr)
        return 2
    return 0


def run_headless(args: argparse.Namespace) -> int:
    """Run a subcommand without Qt. Returns the process exit code."""
    setup_logging(paths.log_dir(), logging.DEBUG if args.verbose else logging.INFO, to_stderr=True)
    settings = open_settings()
    if settings.load_error:
        print(f"warning: {settings.load_error}", file=sys.stderr)
    if args.command == "settings":  # no studio needed: the file and its checks
        return run_settings(args, settings)
    if args.command in ("export", "import"):
        return run_archive(args, settings)
    try:
        profile = resolve_profile(args, settings)
        studio = Studio(profile, settings)
        return asyncio.run(HEADLESS_COMMANDS[args.command](args, studio))
    except StudioError as exc:
        print(f"harmonie-studio: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
