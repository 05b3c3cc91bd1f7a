"""Prometheus text exposition (format 0.0.4) for the few figures an operator needs."""

from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from backend.hub import Hub

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class Metrics:
    def __init__(self) -> None:
        self.http_requests: Counter[tuple[str, str]] = Counter()
        self.chat_messages = 0
        self.notifications = 0

    def render(self, hub: Hub) -> str:
        lines = [
            "# HELP harmonie_http_requests_total HTTP requests answered, by method and status.",
            "# TYPE harmonie_http_requests_total counter",
        ]
        for (method, status), count in sorted(self.http_requests.items()):
            lines.append(
                f'harmonie_http_requests_total{{method="{method}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP harmonie_websocket_clients WebSocket clients connected to this instance.",
            "# TYPE harmonie_websocket_clients gauge",
            f'harmonie_websocket_clients{{kind="chat"}} {hub.count("chat:")}',
            f'harmonie_websocket_clients{{kind="notifications"}} {hub.count("user:")}',
            "# HELP harmonie_chat_messages_total Chat messages accepted by this instance.",
            "# TYPE harmonie_chat_messages_total counter",
            f"harmonie_chat_messages_total {self.chat_messages}",
            "# HELP harmonie_notifications_total Notifications published by this instance.",
            "# TYPE harmonie_notifications_total counter",
            f"harmonie_notifications_total {self.notifications}",
            "# HELP harmonie_ws_messages_delivered_total WebSocket frames sent to clients.",
            "# TYPE harmonie_ws_messages_delivered_total counter",
            f"harmonie_ws_messages_delivered_total {hub.delivered}",
        ]
        return "\n".join(lines) + "\n"


class RequestCounter:
    """Pure ASGI middleware (no buffering, WebSockets untouched) counting HTTP responses."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "")
        method = method if method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD") else "OTHER"

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.http_requests[(method, str(message["status"]))] += 1
            await send(message)

        await self.app(scope, receive, counting_send)
