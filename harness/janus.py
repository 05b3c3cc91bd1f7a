"""Real Janus servers (Debian's `janus` package) for the Janus tests and bench/janus.py.

Each instance gets its own configuration folder: the core (`janus.jcfg`), the HTTP transport on
a free loopback port, and the two plugins the backend uses (VideoRoom on the origin, Streaming
on edges; both load everywhere, it costs nothing). Every other plugin and transport is
disabled. ICE gathers on the interfaces `ice_enforce_list` names. `event_loops = 2`: viewers
share two poll-loop threads instead of one thread each (the README's hosting section; on 2
cores it took Janus from 0.62-0.74 to 0.48 % of a core per viewer in bench/janus.py).
"""

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.processes import end
from studio.local_backend import free_port

# Debian installs the plugins under the multiarch triplet (/usr/lib/x86_64-linux-gnu/janus).
LIB = next((p.parent for p in Path("/usr/lib").glob("*/janus/plugins")), Path("/usr/lib/janus"))
PLUGINS = ("libjanus_videoroom.so", "libjanus_streaming.so")
TRANSPORTS = ("libjanus_http.so",)


@dataclass
class JanusServer:
    name: str
    url: str  # the HTTP API, e.g. http://127.0.0.1:PORT/janus
    folder: Path  # its configuration (and log)
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> Path:
        return self.folder / "janus.log"

    def kill(self) -> None:
        """Gone at once, as a crashed machine would be."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        """Killed, then started again on the same port with the same configuration (and no
        memory of sessions, rooms or mountpoints)."""
        self.kill()
        self.process = _launch(self.folder)
        wait_for_api(self)


def janus_binary() -> str:
    found = shutil.which("janus")
    if found is None:
        raise RuntimeError("janus is not installed (Debian: apt-get install janus)")
    return found


def _disabled(folder: Path, keep: tuple[str, ...]) -> str:
    return ",".join(sorted(p.name for p in folder.glob("*.so") if p.name not in keep))


def write_config(
    folder: Path, port: int, ice_interfaces: str = "lo", api_secret: str | None = None
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    secret = f'\tapi_secret = "{api_secret}"\n' if api_secret else ""
    (folder / "janus.jcfg").write_text(
        f"""general: {{
{secret}	configs_folder = "{folder}"
	plugins_folder = "{LIB / "plugins"}"
	transports_folder = "{LIB / "transports"}"
	events_folder = "{LIB / "events"}"
	loggers_folder = "{LIB / "loggers"}"
	debug_level = 4
	event_loops = 2
	session_timeout = 60
}}
media: {{
	rtp_port_range = "20000-40000"
}}
nat: {{
	nice_debug = false
	ice_enforce_list = "{ice_interfaces}"
}}
plugins: {{
	disable = "{_disabled(LIB / "plugins", PLUGINS)}"
}}
transports: {{
	disable = "{_disabled(LIB / "transports", TRANSPORTS)}"
}}
loggers: {{
	disable = "{_disabled(LIB / "loggers", ())}"
}}
events: {{
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
	json = "plain"
	base_path = "/janus"
	http = true
	ip = "127.0.0.1"
	port = {port}
	https = false
}}
admin: {{
	admin_http = false
	admin_https = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    (folder / "janus.plugin.streaming.jcfg").write_text(
        'general: {\n\trtp_port_range = "41000-60000"\n}\n'
    )


def wait_for_api(server: JanusServer, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"janus {server.name} exited: {server.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/info", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"janus {server.name} did not answer within {timeout_s} s")


def _launch(folder: Path) -> subprocess.Popen[bytes]:
    with (folder / "janus.log").open("ab") as out:
        return subprocess.Popen(
            [janus_binary(), "-F", str(folder), "-C", str(folder / "janus.jcfg"), "-N"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def start_janus(base: Path, name: str, api_secret: str | None = None) -> JanusServer:
    """A Janus process; with `api_secret`, every API request must carry it."""
    folder = base / name
    port = free_port()
    write_config(folder, port, api_secret=api_secret)
    process = _launch(folder)
    server = JanusServer(name, f"http://127.0.0.1:{port}/janus", folder, process)
    try:
        wait_for_api(server)
    except BaseException:
        end(process)
        raise
    return server


@contextmanager
def janus_servers(base: Path, *names: str) -> Iterator[dict[str, JanusServer]]:
    """Janus instances named `names`, each its own process; all ended on exit."""
    with ExitStack() as stack:
        servers = {}
        for name in names:
            server = start_janus(base, name)
            stack.callback(lambda s=server: end(s.process))  # the process a restart left
            servers[name] = server
        yield servers
