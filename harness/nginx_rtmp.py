"""A real RTMP server for tests and benches: Debian's nginx with libnginx-mod-rtmp.

nginx runs in the foreground as a child of ours (no system service, no master process) on
a free loopback port, with its prefix, config, pid file and logs in a directory of ours.
`restart` stops it and starts it again on the same port: what an ingest restart looks like
to a publisher. Read a stream back with `av.open(server.url(key))`.
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

from harness.processes import end
from studio.local_backend import free_port

NGINX = "/usr/sbin/nginx"
MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")

CONFIG = """\
load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/logs/error.log info;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
            wait_key on;
        }}
    }}
}}
"""


def have_nginx_rtmp() -> bool:
    return (shutil.which("nginx") is not None or Path(NGINX).exists()) and MODULE.exists()


class NginxRtmp:
    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        (root / "logs").mkdir(parents=True, exist_ok=True)
        self.config = root / "nginx.conf"
        self.config.write_text(CONFIG.format(module=MODULE, root=root, port=self.port))

    def url(self, key: str, app: str = "live") -> str:
        return f"rtmp://127.0.0.1:{self.port}/{app}/{key}"

    @property
    def server_url(self) -> str:
        """The application URL a publisher is given (the key goes after it)."""
        return f"rtmp://127.0.0.1:{self.port}/live"

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("nginx") or NGINX
        log = (self.root / "logs" / "stderr.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "-p", str(self.root), "-c", str(self.config), "-e",
             str(self.root / "logs" / "error.log")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx-rtmp exited at start: {self.error_log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx-rtmp did not listen on port {self.port} in {timeout} s")

    def stop(self) -> None:
        end(self.process)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def error_log(self) -> str:
        path = self.root / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""
