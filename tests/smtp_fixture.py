"""A real SMTP server (aiosmtpd) on loopback for the digest tests, with scriptable replies.

- `fail_next(["421 ...", "451 ..."])`: answer the next messages' DATA with these replies (the
  message is then NOT accepted, as a real server would discard it), then recover;
- `refuse`: addresses answered `550` at RCPT TO (a hard bounce);
- `on_data`: called with the envelope before accepting; may return a reply to send instead.
Accepted messages are parsed with the `email` package and kept in `messages`.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """aiosmtpd handler that records accepted messages and plays scripted failures."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # the accepted DATA exactly as received, for header checks
        self.replies: list[str] = []
        self.refuse: set[str] = set()
        self.on_data: Callable[[object], str | None] | None = None
        self.data_commands = 0
        self.lock = threading.Lock()

    def fail_next(self, replies: list[str]) -> None:
        """Answer the next DATA commands with these replies, in order."""
        with self.lock:
            self.replies.extend(replies)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_commands += 1
            if self.replies:
                return self.replies.pop(0)
        if self.on_data is not None:
            reply = self.on_data(envelope)
            if reply:
                return reply
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
            self.raw.append(envelope.content)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Accepted messages addressed to `address`."""
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]


class SmtpServer:
    """A running loopback server: host, port, and its Recorder as `.handler`."""

    def __init__(self):
        self.handler = Recorder()
        self.port = free_port()
        self.host = "127.0.0.1"
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages


@pytest.fixture
def smtp_server():
    """A fresh loopback SMTP server per test."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings, smtp_server):
    """The test's settings sending to the loopback SMTP server, as a production site would."""
    return settings.model_copy(
        update={
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "base_url": "https://papers.example.org",
            "mail_from": "Paper Route <digest@papers.example.org>",
            "mail_reply_to": "editors@papers.example.org",
            "mail_rate_per_second": 0,
        }
    )
