"""Opt-in error reports: the envelope sentry-sdk sends, caught at a local HTTP endpoint, carries
the error and none of the secrets around it (keys, passwords, tokens, phrases, addresses)."""

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from eth_account import Account

from backend.error_reports import scrub_text
from tests.backend.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
Account.enable_unaudited_hdwallet_features()


class EnvelopeCatcher:
    """A Sentry ingest stand-in on 127.0.0.1: keeps every envelope body, decompressed."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.arrived = threading.Condition()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    raw = gzip.decompress(raw)
                elif encoding == "deflate":
                    raw = zlib.decompress(raw)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    raw = brotli.decompress(raw)
                with catcher.arrived:
                    catcher.bodies.append(raw.decode("utf-8", "replace"))
                    catcher.arrived.notify_all()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_port}/1"

    def events(self) -> list[dict]:  # type: ignore[type-arg]
        found = []
        for body in self.bodies:
            lines = body.split("\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


@pytest.fixture
def catcher() -> Iterator[EnvelopeCatcher]:
    catcher = EnvelopeCatcher()
    thread = threading.Thread(target=catcher.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield catcher
    finally:
        catcher.server.shutdown()
        catcher.server.server_close()


def _secrets() -> dict[str, str]:
    account, phrase = Account.create_with_mnemonic()
    return {
        "private_key": account.key.hex(),
        "address": account.address,
        "phrase": phrase,
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIweGFiYyIsImV4cCI6MX0.c2lnbmF0dXJlLXBhcnQtaGVyZQ",
        "password": "Correct-Horse-9-battery",
        "token": "Zq3xV9pL2mN8rT5wY7kJ4hG6fD1sA0bC",
        "email": "nina.blue@example.org",
        "db_password": "Pg5ecretPa55",
    }


def _assert_clean(text: str, secrets: dict[str, str]) -> None:
    for name, secret in secrets.items():
        for form in {secret, secret.lower(), secret.removeprefix("0x")}:
            assert form not in text, f"the {name} reached the report"
    for word_run in [" ".join(secrets["phrase"].split()[i : i + 4]) for i in (0, 4, 8)]:
        assert word_run not in text, "part of the recovery phrase reached the report"


def test_an_exception_report_carries_the_error_and_no_secret(
    catcher: EnvelopeCatcher, tmp_path: Path
) -> None:
    secrets = _secrets()
    script = tmp_path / "crash.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, logging, sys
            import sentry_sdk
            from backend.error_reports import start_error_reports

            secrets = json.loads(sys.argv[2])
            assert start_error_reports(sys.argv[1], component="studio", release="test")

            def unlock(password, phrase, private_key, settings):
                headers = {"Authorization": "Bearer " + secrets["jwt"]}
                url = f"postgresql://harmonie:{secrets['db_password']}@db.internal/harmonie"
                logging.getLogger("wallet").warning("unlocking %s for %s", secrets["address"],
                                                    secrets["email"])
                raise ValueError(
                    f"marker-unlock-failed for {secrets['address']} token {secrets['token']} "
                    f"jwt {secrets['jwt']} phrase {phrase} at {url}"
                )

            try:
                unlock(secrets["password"], secrets["phrase"], secrets["private_key"],
                       {"api_key": secrets["token"], "email": secrets["email"]})
            except ValueError:
                sentry_sdk.capture_exception()
            logging.getLogger("wallet").error("marker-logged-error key=%s", secrets["private_key"])
            sentry_sdk.flush(10)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script), catcher.dsn, json.dumps(secrets)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    everything = "\n".join(catcher.bodies)
    events = catcher.events()
    assert len(events) == 2, everything[:2000]
    exception = events[0]["exception"]["values"][-1]
    assert exception["type"] == "ValueError"
    assert "marker-unlock-failed" in exception["value"]
    assert exception["stacktrace"]["frames"][-1]["function"] == "unlock"
    assert "marker-logged-error" in json.dumps(events[1])
    _assert_clean(everything, secrets)


def test_backend_started_with_a_dsn_reports_its_startup_failure_without_the_password(
    catcher: EnvelopeCatcher, tmp_path: Path
) -> None:
    secrets = _secrets()
    closed = free_port()  # nothing listens: the database cannot be reached
    database_url = f"postgresql://harmonie:{secrets['db_password']}@127.0.0.1:{closed}/harmonie"
    done = subprocess.run(
        [sys.executable, "-m", "backend", "--port", str(free_port()), "--data-dir",
         str(tmp_path), "--database-url", database_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HARMONIE_ERROR_REPORTS_DSN": catcher.dsn,
             "HARMONIE_JWT_SECRET": secrets["token"]},
        timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    events = catcher.events()
    assert events, done.stderr[-2000:]
    everything = "\n".join(catcher.bodies)
    assert "cannot prepare the database" in everything or "startup failed" in everything
    _assert_clean(everything, secrets)


def test_scrub_text_keeps_ordinary_words_and_versions() -> None:
    text = "upload of track 3 failed after 2 tries (backend@0.1.0, studio.core line 120)"
    assert scrub_text(text) == text


STUDIO_SCRIPT = """
import logging, sys
from pathlib import Path
import sentry_sdk
from studio.core import Studio
from studio.profiles import load_profile
from studio.settings import Settings

dsn, workdir, address, phrase = sys.argv[1:5]
settings = Settings(Path(workdir) / "settings.toml")
if dsn:
    settings.set("error_reports_dsn", dsn)
Studio(load_profile("local"), settings, Path(workdir) / "data", Path(workdir) / "logs")
logging.getLogger("studio.wallet").error("marker-studio-error for %s: %s", address, phrase)
sentry_sdk.flush(10)
"""


@pytest.mark.parametrize("opted_in", [True, False], ids=["dsn-set", "default-off"])
def test_the_studio_reports_only_when_the_artist_set_a_dsn(
    catcher: EnvelopeCatcher, tmp_path: Path, opted_in: bool
) -> None:
    secrets = _secrets()
    done = subprocess.run(
        [sys.executable, "-c", STUDIO_SCRIPT, catcher.dsn if opted_in else "", str(tmp_path),
         secrets["address"], secrets["phrase"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    events = catcher.events()
    if not opted_in:
        assert events == []
        return
    (event,) = events
    assert "marker-studio-error" in json.dumps(event)
    assert event["tags"]["component"] == "studio"
    _assert_clean("\n".join(catcher.bodies), secrets)
