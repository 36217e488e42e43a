"""Messages: `new_message` for every mail, and `send_email` for one-off ones (sign-in links,
subscription confirmations).

Every message paperroute sends starts from `new_message`: an `EmailMessage` under
`email.policy.SMTP` (CRLF line ends, RFC 2047 headers), with exactly one Date, Message-ID and
(once content is set) MIME-Version. Header values that repeat from message to message (From, the
list headers, a digest run's subjects and Date) are parsed once per process (`header`): parsing
one costs ~0.1 ms, and a digest run builds 10,000 messages. The SMTP conversation itself (TLS
modes, login, error classes) is `mail.smtp.Mailer`'s, so that sign-in mail and digests reach
the server the same way.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from functools import lru_cache

from paperroute.config import Settings
from paperroute.mail.smtp import Mailer, MailError

_URL = re.compile(r"https?://[!-;=?-~]{1,900}")  # printable ASCII but <>: no space, CR, LF


@lru_cache(maxsize=16)
def _sender(mail_from: str) -> str:
    return email.utils.parseaddr(mail_from)[1]


def mail_domain(settings: Settings) -> str:
    """Domain used for Message-IDs: the From address's domain."""
    addr = _sender(settings.mail_from)
    return addr.rsplit("@", 1)[-1] if "@" in addr else "localhost"


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, with each header's class made once: the stock one makes
    a new class with `type()` on every lookup, and `msg[name] = value` looks one up to check
    the header's count (~30 us each, 16 a digest message)."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# SMTP's policy, except that a header stored raw (`set_list_unsubscribe`) is written as it is.
MAIL_POLICY = email.policy.SMTP.clone(refold_source="none", header_factory=_HeaderClasses())


@lru_cache(maxsize=1024)
def header(name: str, value: str) -> BaseHeader:
    """The parsed header `name: value` (immutable, so one object serves every message); a value
    with CR or LF is refused as `msg[name] = value` refuses it."""
    return MAIL_POLICY.header_store_parse(name, value)[1]


def new_message(
    settings: Settings, to: str, subject: str, message_id: str | None = None
) -> EmailMessage:
    """A message with its envelope headers set once: From, To, Subject, Date, Message-ID."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = header("Subject", subject)
    msg["From"] = header("From", settings.mail_from)
    msg["To"] = to
    if settings.mail_reply_to:
        msg["Reply-To"] = header("Reply-To", settings.mail_reply_to)
    msg["Date"] = header("Date", email.utils.formatdate(usegmt=True))
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain=mail_domain(settings))
    return msg


def set_list_unsubscribe(msg: EmailMessage, url: str) -> None:
    """RFC 8058 one-click unsubscribe headers for `url`, the URL left as it is on the wire.

    The header registry would fold a long URL into RFC 2047 encoded words, which mail clients
    do not decode in List-Unsubscribe (RFC 2369 wants the bare <URL>); a URL cannot hold CR, LF
    or spaces, so it is stored as one raw line (under 998 characters)."""
    if not _URL.fullmatch(url):
        raise ValueError(f"mail: not a List-Unsubscribe URL: {url!r}")
    msg.set_raw("List-Unsubscribe", f"<{url}>")
    msg["List-Unsubscribe-Post"] = header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")


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
