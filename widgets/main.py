"""Entry point of `harmonie-studio`: headless subcommands run without importing Qt.

`harmonie-studio backend ...` runs the backend's own command line (`harmonie-backend`): the
studio starts its local backend that way, from its own executable, so a frozen build needs
no Python interpreter on the machine (studio.local_backend.backend_command).
"""

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    # In a frozen build the devnet's child process (chain.devnet_process) starts this same
    # executable: this turns such a start into that child.
    multiprocessing.freeze_support()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["backend"]:
        # Before the studio's imports: the backend process loads neither Qt nor the studio.
        from backend.cli import main as backend_main

        return backend_main(argv[1:])
    from studio.cli import parse_args, run_headless

    args = parse_args(argv)
    if args.command:
        return run_headless(args)
    from widgets.app import run_gui  # Qt is loaded only for the window

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
