"""One-off emails (sign-in links, subscription confirmations): `send_email(settings, msg)`.

The SMTP conversation itself (TLS modes, login, error classes) is digest.send.Mailer's, so that
sign-in mail and digests reach the server the same way.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from paperroute.config import Settings
from paperroute.digest.send import Mailer
from paperroute.digest.send import MailError as _SmtpError


class MailError(RuntimeError):
    """The SMTP server could not take the message (message names the server and reason)."""


def send_email(settings: Settings, msg: EmailMessage) -> str:
    """Send one message through the configured SMTP server; returns its Message-ID."""
    if not msg["From"]:
        msg["From"] = settings.mail_from
    if settings.mail_reply_to and not msg["Reply-To"]:
        msg["Reply-To"] = settings.mail_reply_to
    if not msg["Message-ID"]:
        msg["Message-ID"] = make_msgid(domain=settings.mail_from.rsplit("@", 1)[-1].strip("> "))
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with Mailer(settings, rate=0) as mailer:  # one message: no rate limit to wait for
            mailer.send(msg)
    except _SmtpError as exc:
        raise MailError(f"mail: SMTP server {where} refused or unreachable: {exc}") from exc
    return msg["Message-ID"]
