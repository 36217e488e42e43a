"""Rendering emails: a Digest (or a confirmation) to a MIME message with an HTML and a text part.

Templates live in digest/templates (HTML with inline CSS and table layout for mail clients, plus a
plain-text twin). Every digest carries RFC 8058 one-click unsubscribe headers and a Message-ID
derived from (subscription, period), so a resend after a crash is recognisably the same message.
"""

from __future__ import annotations

import email.utils
from email.headerregistry import Address
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from paperroute.config import Settings
from paperroute.digest.compose import Digest
from paperroute.digest.tokens import link
from paperroute.models import Paper
from paperroute.store.subscriptions import Subscription

TEMPLATES = Path(__file__).parent / "templates"
EXCERPT_CHARS = 280
MAX_AUTHORS = 6


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(excerpt=excerpt, authors=author_line)
    return env


def excerpt(paper: Paper, limit: int = EXCERPT_CHARS) -> str:
    """The start of the abstract, cut at a word boundary."""
    text = " ".join((paper.abstract or "").split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def author_line(paper: Paper) -> str:
    """Authors for display, shortened for long author lists."""
    names = paper.author_names
    if len(names) > MAX_AUTHORS:
        return ", ".join(names[:MAX_AUTHORS]) + f" and {len(names) - MAX_AUTHORS} more"
    return ", ".join(names)


def _cadence_words(subscription: Subscription) -> str:
    return "weekly" if subscription.prefs.cadence == "weekly" else "daily"


def mail_domain(settings: Settings) -> str:
    """Domain used for Message-IDs: the From address's domain."""
    _, addr = email.utils.parseaddr(settings.mail_from)
    return addr.rsplit("@", 1)[-1] if "@" in addr else "localhost"


def digest_message_id(settings: Settings, subscription_id: int, period: str) -> str:
    """The fixed Message-ID of one (subscription, period) digest."""
    return f"<digest.{subscription_id}.{period}@{mail_domain(settings)}>"


def digest_subject(settings: Settings, digest: Digest) -> str:
    """Subject line: site, period and how many papers."""
    count = len(digest.paper_ids)
    return f"{settings.site_name} digest, {digest.period_label}: {count} paper{'s' * (count != 1)}"


def render_digest(
    settings: Settings, subscription: Subscription, digest: Digest
) -> tuple[str, str]:
    """(HTML, plain text) of a digest."""
    base = settings.base_url.rstrip("/")
    context = {
        "digest": digest,
        "count": len(digest.paper_ids),
        "site_name": settings.site_name,
        "subject": digest_subject(settings, digest),
        "cadence_words": _cadence_words(subscription),
        "paper_url": lambda p: f"{base}/papers/{p.id}",
        "preferences_url": link(settings, subscription.id, "preferences"),
        "unsubscribe_url": link(settings, subscription.id, "unsubscribe"),
    }
    env = _env()
    return env.get_template("digest.html").render(context), env.get_template("digest.txt").render(
        context
    )


def _base_message(settings: Settings, to: str, subject: str, html: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.mail_from
    msg["To"] = Address(addr_spec=to)
    if settings.mail_reply_to:
        msg["Reply-To"] = settings.mail_reply_to
    msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _unsubscribe_headers(settings: Settings, msg: EmailMessage, subscription_id: int) -> None:
    url = link(settings, subscription_id, "unsubscribe")
    _, sender = email.utils.parseaddr(settings.mail_from)
    targets = [f"<{url}>"]
    if sender:
        targets.append(f"<mailto:{sender}?subject=unsubscribe%20{subscription_id}>")
    msg["List-Unsubscribe"] = ", ".join(targets)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Id"] = f"{settings.site_name} digest <digest.{mail_domain(settings)}>"


def digest_message(settings: Settings, subscription: Subscription, digest: Digest) -> EmailMessage:
    """The complete digest email, ready for SMTP."""
    html, text = render_digest(settings, subscription, digest)
    msg = _base_message(settings, subscription.email, digest_subject(settings, digest), html, text)
    msg["Message-ID"] = digest_message_id(settings, subscription.id, digest.period)
    _unsubscribe_headers(settings, msg, subscription.id)
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def subscription_message(settings: Settings, subscription: Subscription) -> EmailMessage:
    """The double opt-in email: a confirmation link, or for an active address a preferences link."""
    context = {
        "site_name": settings.site_name,
        "email": subscription.email,
        "cadence_words": _cadence_words(subscription),
        "confirm_url": link(settings, subscription.id, "confirm"),
        "preferences_url": link(settings, subscription.id, "preferences"),
        "unsubscribe_url": link(settings, subscription.id, "unsubscribe"),
    }
    if subscription.status == "active":
        name, subject = "manage", f"Your {settings.site_name} digest preferences"
    else:
        name, subject = "confirm", f"Confirm your {settings.site_name} digest"
    context["subject"] = subject
    env = _env()
    html = env.get_template(f"{name}.html").render(context)
    text = env.get_template(f"{name}.txt").render(context)
    msg = _base_message(settings, subscription.email, subject, html, text)
    msg["Message-ID"] = email.utils.make_msgid(domain=mail_domain(settings))
    return msg
