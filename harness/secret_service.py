"""A real Secret Service for tests: a private D-Bus session bus with an unlocked gnome-keyring."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness.processes import end


def have_gnome_keyring() -> bool:
    return all(shutil.which(b) for b in ("dbus-run-session", "gnome-keyring-daemon"))


class SecretServiceSession:
    """A private D-Bus session bus with an unlocked gnome-keyring (Secret Service) on it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_RUNTIME_DIR": str(home / "run"),
        }
        (home / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
        self.bus: subprocess.Popen[bytes] | None = None
        self.keyring: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self, attempts: int = 3) -> None:
        """Start bus and keyring; a keyring that does not come up (seen once under load:
        'Prompt dismissed' from the probe) is stopped and started afresh."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return
            except RuntimeError:
                self.stop()
                shutil.rmtree(self.home / "data" / "keyrings", ignore_errors=True)
                if attempt == attempts:
                    raise

    def _start_once(self) -> None:
        self.bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            env=self.env,
        )  # fmt: skip
        assert self.bus.stdout is not None
        self.address = self.bus.stdout.readline().decode().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon printed no address")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        self.keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=self.env,
        )  # fmt: skip
        assert self.keyring.stdin is not None
        self.keyring.stdin.write(b"test-login-password")
        self.keyring.stdin.close()
        self._wait_for_secret_service()

    def _wait_for_secret_service(self, timeout: float = 20.0) -> None:
        probe = (
            "import secretstorage; c = secretstorage.dbus_init(); "
            "col = secretstorage.get_default_collection(c); assert not col.is_locked()"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = subprocess.run(
                [sys.executable, "-c", probe], env=self.env, capture_output=True, timeout=20
            )
            if done.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"gnome-keyring did not come up: {done.stderr.decode()[-500:]}")

    def stop(self) -> None:
        for process in (self.keyring, self.bus):
            end(process)
