"""A small SMTP sender shared by sign-in links and digests: `send_email(settings, msg)`."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from paperroute.config import Settings


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
        if settings.smtp_tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=30,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30)
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_user, password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"mail: SMTP server {where} refused or unreachable: {exc}") from exc
    return msg["Message-ID"]
