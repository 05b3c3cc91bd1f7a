"""An artist's desktop for the real studio: Xvfb with a tray host, a private D-Bus session with
an unlocked gnome-keyring, XDG dirs under one home, accessibility on (harness.atspi)."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.atspi import A11Y_ENV
from harness.secret_service import SecretServiceSession
from harness.xserver import xvfb_with_tray

XDG_DIRS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


@contextmanager
def artist_desktop(home: Path) -> Iterator[tuple[dict[str, str], SecretServiceSession]]:
    """(env for the studio and the tools, the keyring session); everything stops on exit.
    Raises FileNotFoundError naming a missing program (Xvfb, trayer, xprop)."""
    keyring = SecretServiceSession(home / "keyring-home")
    keyring.start()
    try:
        with xvfb_with_tray() as xserver:
            env = {**xserver.env, **A11Y_ENV}
            env["DBUS_SESSION_BUS_ADDRESS"] = keyring.address
            env["HOME"] = str(keyring.home)
            env["HARMONIE_ICE_LOOPBACK"] = "only"  # media stays on 127.0.0.1
            for var in XDG_DIRS:
                env[var] = str(home / var.lower())
                Path(env[var]).mkdir(parents=True, exist_ok=True)
            returning_artist(env)
            yield env, keyring
    finally:
        keyring.stop()


def returning_artist(env: dict[str, str]) -> None:
    """The artist went through the first-run guide before: the studio opens straight on
    its window (the guide's own journey is tests/window_journeys/test_first_run.py)."""
    from studio.first_run import mark_done
    from studio.paths import APP_NAME
    from studio.settings import Settings

    config = Path(env["XDG_CONFIG_HOME"]) / APP_NAME
    mark_done(Settings.open(config / "settings.toml"))


def import_private_key(env: dict[str, str], key: str, password: str) -> str:
    """What the Import dialog does, in a process on the same Secret Service; the address."""
    code = (
        "import sys; from chain.wallet import Wallet; "
        "print(Wallet().import_private_key(sys.stdin.readline().strip(), sys.stdin.readline()"
        ".rstrip('\\n')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=f"{key}\n{password}\n", env=env,
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]
