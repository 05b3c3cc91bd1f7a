"""A real SMTP server (aiosmtpd) on loopback that keeps what it accepts: the inbox of every
recipient, for the mail tests and bench/notify.py. Addresses in `refuse` get 550 at RCPT.
STARTTLS (a `tls_context`) goes through smtpdfix's fixed SMTP class."""

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Delivery:
    to: str
    raw: bytes
    at: float  # time.time() when the server accepted it

    @property
    def message(self) -> EmailMessage:
        # parsed on demand: the server thread only stores bytes (a bench shares its CPU)
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Inbox:
    refuse: set[str] = field(default_factory=set)
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.deliveries.append(Delivery(rcpt.lower(), envelope.original_content, now))
        return "250 Message accepted for delivery"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(d.to for d in self.deliveries)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [d.message for d in self.deliveries if d.to == address.lower()]


class _Controller(Controller):
    def factory(self) -> Any:
        if "tls_context" not in self.SMTP_kwargs:
            return super().factory()
        # aiosmtpd 1.4's own STARTTLS never completes its handshake on Python >= 3.11;
        # smtpdfix's SMTP does it with loop.start_tls.
        from smtpdfix.smtp import SMTP

        return SMTP(self.handler, **self.SMTP_kwargs)


@contextlib.contextmanager
def smtp_server(inbox: Inbox, port: int, **smtp_parameters: Any) -> Iterator[Controller]:
    """aiosmtpd listening on 127.0.0.1:`port` (its own thread) while the context is entered;
    `smtp_parameters` go to aiosmtpd's SMTP (tls_context, require_starttls, authenticator...)."""
    controller = _Controller(inbox, hostname="127.0.0.1", port=port, **smtp_parameters)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
