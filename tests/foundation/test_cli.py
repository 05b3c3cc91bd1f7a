"""The command lines, run as real processes."""

import json
import socket
import subprocess
import sys

import pytest

from tests.support.studio_process import pid_alive, studio_command

BACKEND = [sys.executable, "-m", "backend"]


def run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_version_and_help():
    version = run([*studio_command(), "--version"])
    assert version.returncode == 0 and version.stdout.startswith("harmonie-studio ")
    helptext = run([*studio_command(), "--help"])
    assert helptext.returncode == 0 and "--profile" in helptext.stdout


def test_backend_subcommand_is_the_backend_command_line():
    result = run([*studio_command(), "backend", "--version"])
    assert result.returncode == 0 and result.stdout.startswith("harmonie-backend ")
    bad = run([*studio_command(), "backend", "--port", "nope"])
    assert bad.returncode == 2 and "invalid int value" in bad.stderr
    assert "backend" in run([*studio_command(), "--help"]).stdout


def test_unknown_profile_exits_non_zero_with_a_message():
    result = run([*studio_command(), "--profile", "stage", "status"])
    assert result.returncode == 2
    assert "Unknown profile 'stage'" in result.stderr


def test_unknown_profile_in_gui_mode_fails_before_opening_a_window():
    result = run([*studio_command(), "--profile", "stage"])
    assert result.returncode == 2
    assert "Unknown profile 'stage'" in result.stderr


def test_headless_status_starts_and_stops_the_local_backend():
    result = run([*studio_command(), "status"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"]["backend"] == "connected"
    components = report["health"]["components"]
    assert components["database"]["status"] == "ok"
    assert components["relay"] == {
        "status": "ok",
        "kind": "BuiltinRelay",
        "detail": "0 live, 0 watching",
    }
    assert components["chain"]["status"] == "ok", "the local backend serves the devnet"


def test_testnet_without_a_backend_url_says_so():
    result = run([*studio_command(), "--profile", "testnet", "status"])
    assert result.returncode == 0
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"]["backend"] == "not configured"


def test_backend_refuses_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run([*BACKEND, "--port", str(port)])
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_backend_cli_answers(flag):
    assert run([*BACKEND, flag]).returncode == 0


def test_pid_alive_helper_sees_a_finished_process():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not pid_alive(process.pid)
