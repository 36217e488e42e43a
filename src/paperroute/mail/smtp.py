"""Handing emails to SMTP: one reused connection, a send-rate limit, and clear error classes.

SMTP replies 4xx and lost connections are temporary (`TemporaryMailError`: try again later);
5xx replies are permanent (`PermanentMailError`: the address refused it). Transport security and
authentication come from settings: smtp_tls `none`, `starttls` or `ssl`, smtp_user/smtp_password.
"""

from __future__ import annotations

import email.utils
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage

from paperroute.config import Settings
from paperroute.metrics import counted_mail


class MailError(Exception):
    """An email was not accepted."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class TemporaryMailError(MailError):
    """Worth retrying: 4xx reply, connection refused or lost, timeout."""


class PermanentMailError(MailError):
    """Not worth retrying: a 5xx reply (unknown user, rejected content)."""


def _classify(code: int, text: bytes | str, what: str) -> MailError:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    message = f"SMTP {what}: {code} {detail}".strip()
    return (
        PermanentMailError(message, code)
        if 500 <= code < 600
        else TemporaryMailError(message, code)
    )


def one_recipient(msg: EmailMessage) -> str:
    """The single address in To; PermanentMailError for anything else.

    Every message paperroute sends has one reader. Rows stored before addresses were checked may
    hold a list or control characters; they must not fan out to several mailboxes."""
    found = email.utils.getaddresses([str(msg["To"] or "")])
    addr = found[0][1] if len(found) == 1 else ""
    if "@" not in addr or not addr.isprintable() or " " in addr:
        raise PermanentMailError(f"To: {str(msg['To'])!r} is not exactly one address")
    return addr


class RateLimiter:
    """Spaces calls at least 1/rate seconds apart (thread-safe)."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Sleep until the next call is allowed."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class Mailer:
    """An SMTP client that keeps its connection open across messages; use as a context manager."""

    def __init__(
        self,
        settings: Settings,
        timeout: float = 30.0,
        rate: float | None = None,
        tls_context: ssl.SSLContext | None = None,
    ):
        self.settings = settings
        self.tls_context = tls_context  # default: the system's CAs, hostname checked
        self.timeout = timeout
        self.limiter = RateLimiter(settings.mail_rate_per_second if rate is None else rate)
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if not s.smtp_configured:
            raise TemporaryMailError("SMTP is not configured: set PAPERROUTE_SMTP_HOST")
        mode = (s.smtp_tls or "none").lower()
        if mode not in ("none", "starttls", "ssl"):
            raise PermanentMailError(f"settings.smtp_tls: {s.smtp_tls!r} is not none/starttls/ssl")
        context = self.tls_context or ssl.create_default_context()
        try:
            if mode == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=self.timeout, context=context
                )
            else:
                conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
                if mode == "starttls":
                    conn.starttls(context=context)
            if s.smtp_user:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                conn.login(s.smtp_user, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentMailError(f"SMTP login as {s.smtp_user!r} refused: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error, "connect") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryMailError(
                f"SMTP connect to {s.smtp_host}:{s.smtp_port} failed: {exc}"
            ) from exc
        return conn

    def close(self) -> None:
        """Close the connection politely (QUIT), ignoring a server that has already gone."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()

    @counted_mail(retried=TemporaryMailError, bounced=PermanentMailError)
    def send(self, msg: EmailMessage) -> None:
        """Hand one message to the server; raises TemporaryMailError or PermanentMailError."""
        recipient = one_recipient(msg)
        self.limiter.wait()
        if self._conn is None:
            self._conn = self._connect()
        try:
            refused = self._conn.send_message(msg, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, text = next(iter(exc.recipients.values()))
            raise _classify(code, text, "recipient refused") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _classify(exc.smtp_code, exc.smtp_error, "refused") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TemporaryMailError(f"SMTP connection lost: {exc}") from exc
        if refused:
            code, text = next(iter(refused.values()))
            raise _classify(code, text, "recipient refused")


def send_with_retries(
    mailer: Mailer, msg: EmailMessage, attempts: int = 3, backoff: float = 1.0
) -> None:
    """Send, retrying temporary failures with exponential backoff; the last error propagates."""
    for attempt in range(attempts):
        try:
            mailer.send(msg)
            return
        except TemporaryMailError:
            if attempt == attempts - 1:
                raise
            time.sleep(backoff * (2**attempt))
