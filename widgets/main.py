"""Entry point of `harmonie-studio`: headless subcommands run without importing Qt."""

import sys

from studio.cli import parse_args, run_headless


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command:
        return run_headless(args)
    from widgets.app import run_gui  # Qt is loaded only for the window

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
