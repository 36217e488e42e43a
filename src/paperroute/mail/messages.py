"""Messages: `new_message` for every mail, and `send_email` for one-off ones (sign-in links,
subscription confirmations).

Every message paperroute sends starts from `new_message`: an `EmailMessage` under
`email.policy.SMTP` (CRLF line ends, RFC 2047 headers), with exactly one Date, Message-ID and
(once content is set) MIME-Version. The SMTP conversation itself (TLS modes, login, error
classes) is `mail.smtp.Mailer`'s, so that sign-in mail and digests reach the server the same way.
"""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage
from functools import lru_cache

from paperroute.config import Settings
from paperroute.mail.smtp import Mailer, MailError


@lru_cache(maxsize=16)
def _sender(mail_from: str) -> str:
    return email.utils.parseaddr(mail_from)[1]


def mail_domain(settings: Settings) -> str:
    """Domain used for Message-IDs: the From address's domain."""
    addr = _sender(settings.mail_from)
    return addr.rsplit("@", 1)[-1] if "@" in addr else "localhost"


def new_message(
    settings: Settings, to: str, subject: str, message_id: str | None = None
) -> EmailMessage:
    """A message with its envelope headers set once: From, To, Subject, Date, Message-ID."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = settings.mail_from
    msg["To"] = to
    if settings.mail_reply_to:
        msg["Reply-To"] = settings.mail_reply_to
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain=mail_domain(settings))
    return msg


def send_email(settings: Settings, msg: EmailMessage) -> str:
    """Send one message through the configured SMTP server; returns its Message-ID.

    Raises MailError (its temporary or permanent kind) naming the server and the reason."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with Mailer(settings, rate=0) as mailer:  # one message: no rate limit to wait for
            mailer.send(msg)
    except MailError as exc:
        message = f"mail: SMTP server {where} refused or unreachable: {exc}"
        raise type(exc)(message, exc.code) from exc
    return msg["Message-ID"]
