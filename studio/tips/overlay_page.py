"""The alert box for OBS: a page on 127.0.0.1 that plays the alert queue, for a browser source.

    http://127.0.0.1:47811/overlay/<secret>/

The secret is made once per install and kept with the settings (`[overlay_page] secret`); any
other path answers 404 and says nothing more. The page shows the same alerts as the studio, in
the same order, from the same queue and rules (it is told of each alert as it plays, over
server-sent events), on a transparent background. The server runs on aiohttp inside the
studio's own event loop (uvicorn would take over the process's signal handlers), without an
access log: the secret is in every request's path.
"""

import asyncio
import contextlib
import hmac
import json
import logging
import mimetypes
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web

from studio.tips.alert_queue import AlertQueue, QueuedAlert

log = logging.getLogger(__name__)

SECTION = "overlay_page"
DEFAULT_PORT = 47811
HOST = "127.0.0.1"
KEEPALIVE_S = 15.0
_END = object()


def overlay_settings(settings: Any) -> tuple[str, int]:
    """(secret, port) from the settings, making and saving the secret on first use."""
    section = settings.get(SECTION) or {}
    if not isinstance(section, dict):
        section = {}
    secret = section.get("secret")
    if not isinstance(secret, str) or len(secret) < 16:
        secret = secrets.token_urlsafe(24)
        settings.set(SECTION, {**section, "secret": secret})
        settings.save()
    port = section.get("port", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        log.warning("settings: overlay_page.port is not a port; using %d", DEFAULT_PORT)
        port = DEFAULT_PORT
    return secret, port


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>HarmonieCORE alerts</title>
<style>
html, body { margin: 0; background: transparent; overflow: hidden; }
#alert { position: absolute; left: 50%; top: 12%; transform: translateX(-50%);
  max-width: 80vw; text-align: center; font: 700 42px/1.25 system-ui, sans-serif;
  color: #fff; text-shadow: 0 2px 6px #000, 0 0 2px #000; opacity: 0;
  transition: opacity 150ms; }
#alert.shown { opacity: 1; }
#alert img { max-width: 40vw; max-height: 40vh; display: block; margin: 0 auto 12px; }
#message { font-weight: 500; font-size: 30px; margin-top: 8px; white-space: pre-wrap; }
</style></head>
<body><div id="alert" role="status" aria-live="polite"><img id="image" alt="" hidden>
<div id="text"></div><div id="message"></div></div>
<script>
"use strict";
const box = document.getElementById("alert");
const seen = new Set(JSON.parse(sessionStorage.getItem("seen") || "[]"));
window.__shown = [];
let timer = null, playing = null;
function hide(id) {
  if (playing !== id) return;
  playing = null; box.classList.remove("shown"); clearTimeout(timer);
}
function play(a) {
  if (seen.has(a.id)) return;
  seen.add(a.id);
  sessionStorage.setItem("seen", JSON.stringify([...seen].slice(-500)));
  playing = a.id;
  document.getElementById("text").textContent = a.text;
  document.getElementById("message").textContent = a.message;
  const img = document.getElementById("image");
  if (a.image) { img.src = "image/" + a.id; img.hidden = false; } else { img.hidden = true; }
  if (a.sound) {
    const s = new Audio("sound/" + a.id); s.volume = a.volume; s.play().catch(() => {});
  }
  box.classList.add("shown");
  clearTimeout(timer);
  timer = setTimeout(() => hide(a.id), a.remaining_ms ?? a.duration_ms);
  requestAnimationFrame(() => window.__shown.push({id: a.id, text: a.text, at: Date.now()}));
}
const events = new EventSource("events");
events.onopen = () => { window.__connected = true; };
events.addEventListener("play", (e) => play(JSON.parse(e.data)));
events.addEventListener("end", (e) => hide(JSON.parse(e.data).id));
</script></body></html>
"""


class OverlayServer:
    def __init__(self, queue: AlertQueue, secret: str, host: str = HOST, port: int = 0) -> None:
        if len(secret) < 16:
            raise ValueError("the overlay secret is too short")
        self.queue = queue
        self.host = host
        self.port = port
        self._secret = secret
        self._runner: web.AppRunner | None = None
        self._subscribers: set[asyncio.Queue[Any]] = set()
        self._started_at: dict[int, float] = {}
        app = web.Application()
        app.router.add_get("/overlay/{secret}/", self._page)
        app.router.add_get("/overlay/{secret}/events", self._events)
        app.router.add_get("/overlay/{secret}/image/{id}", self._media)
        app.router.add_get("/overlay/{secret}/sound/{id}", self._media)
        self._app = app
        queue.played.connect(self._on_played)
        queue.finished.connect(self._on_finished)

    @property
    def url(self) -> str:
        """The browser-source URL (holds the secret: show it to the artist, never log it)."""
        return f"http://{self.host}:{self.port}/overlay/{self._secret}/"

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("the OBS alert page is served on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        self.queue.played.disconnect(self._on_played)
        self.queue.finished.disconnect(self._on_finished)
        for subscriber in list(self._subscribers):
            subscriber.put_nowait(_END)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- requests -----------------------------------------------------------------------------

    def _check(self, request: web.Request) -> None:
        given = request.match_info.get("secret", "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            raise web.HTTPNotFound()

    async def _page(self, request: web.Request) -> web.Response:
        self._check(request)
        return web.Response(
            text=_PAGE,
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                "script-src 'unsafe-inline'; img-src 'self'; media-src 'self'",
            },
        )

    async def _media(self, request: web.Request) -> web.StreamResponse:
        self._check(request)
        try:
            alert = self.queue.alert(int(request.match_info["id"]))
        except ValueError:
            alert = None
        kind = "image" if "/image/" in request.path else "sound"
        path = (alert.look.image if kind == "image" else alert.look.sound) if alert else ""
        if not path or not Path(path).expanduser().is_file():
            raise web.HTTPNotFound()
        file = Path(path).expanduser()
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return web.FileResponse(file, headers={"Content-Type": content_type})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self._check(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._subscribers.add(inbox)
        current = self.queue.current
        if current is not None:  # a page opened mid-alert shows the rest of it
            inbox.put_nowait(("play", self._play_data(current)))
        try:
            while True:
                try:
                    item = await asyncio.wait_for(inbox.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if item is _END:
                    break
                name, data = item
                await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            with contextlib.suppress(ConnectionResetError):
                await response.write_eof()
        except ConnectionResetError:
            pass
        finally:
            self._subscribers.discard(inbox)
        return response

    # -- the queue ----------------------------------------------------------------------------

    def _play_data(self, alert: QueuedAlert) -> dict[str, Any]:
        data = alert.public()
        started = self._started_at.get(alert.id)
        if started is not None:
            loop = asyncio.get_running_loop()
            data["remaining_ms"] = max(0, int((started + alert.duration_s - loop.time()) * 1000))
        return data

    def _publish(self, name: str, data: dict[str, Any]) -> None:
        for subscriber in self._subscribers:
            subscriber.put_nowait((name, data))

    def _on_played(self, alert: QueuedAlert) -> None:
        with contextlib.suppress(RuntimeError):
            self._started_at = {alert.id: asyncio.get_running_loop().time()}
        self._publish("play", alert.public())

    def _on_finished(self, alert: QueuedAlert, _how: str) -> None:
        self._started_at = {}
        self._publish("end", {"id": alert.id})
