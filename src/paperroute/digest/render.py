"""Rendering emails: a Digest (or a confirmation) to a MIME message with an HTML and a text part.

Templates live in digest/templates (HTML with inline CSS and table layout for mail clients, plus a
plain-text twin). Every digest carries RFC 8058 one-click unsubscribe headers and the Message-ID
its ledger row holds (derived from (subscription, period) and stored before the first send), so a
resend after a crash is recognisably the same message. Messages are EmailMessage objects under
mail.MAIL_POLICY (SMTP's), started by mail.new_message.
"""

from __future__ import annotations

import base64
import textwrap
from email.message import EmailMessage, MIMEPart
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup, escape

from paperroute.community.notifications import LABELS as NOTIFICATION_LABELS
from paperroute.config import Settings
from paperroute.digest.compose import Digest, DigestItem
from paperroute.digest.tokens import link
from paperroute.mail import header, mail_domain, new_message, set_list_unsubscribe
from paperroute.mail.messages import MAIL_POLICY
from paperroute.models import Paper, paper_path
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
    env.globals.update(excerpt=excerpt, wrapped_excerpt=wrapped_excerpt, authors=author_line)
    return env


@lru_cache(maxsize=32)
def _template(name: str) -> Template:
    # Kept: `get_template` checks the file for changes on every call (~0.1 ms, twice a message).
    return _env().get_template(name)


def excerpt(paper: Paper, limit: int = EXCERPT_CHARS) -> str:
    """The start of the abstract, cut at a word boundary."""
    return _excerpt(paper.abstract or "", limit)


@lru_cache(maxsize=20_000)
def _excerpt(abstract: str, limit: int) -> str:
    # Cached: the same paper appears in thousands of digests of one run.
    text = " ".join(abstract.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def wrapped_excerpt(paper: Paper) -> str:
    """The excerpt wrapped at 74 columns and indented for the plain-text part."""
    return _wrapped(excerpt(paper))


@lru_cache(maxsize=20_000)
def _wrapped(text: str) -> str:
    return textwrap.fill(text, 74, initial_indent="  ", subsequent_indent="  ")


def author_line(paper: Paper) -> str:
    """Authors for display, shortened for long author lists."""
    names = [a.name for a in paper.authors[: MAX_AUTHORS + 1]]
    if len(paper.authors) > MAX_AUTHORS:
        return ", ".join(names[:MAX_AUTHORS]) + f" and {len(paper.authors) - MAX_AUTHORS} more"
    return ", ".join(names)


def _cadence_words(subscription: Subscription) -> str:
    return "weekly" if subscription.prefs.cadence == "weekly" else "daily"


def digest_message_id(settings: Settings, subscription_id: int, period: str) -> str:
    """The fixed Message-ID of one (subscription, period) digest."""
    return f"<digest.{subscription_id}.{period}@{mail_domain(settings)}>"


def digest_subject(settings: Settings, digest: Digest) -> str:
    """Subject line: site, period and how many papers."""
    count = len(digest.paper_ids)
    subject = (
        f"{settings.site_name} digest, {digest.period_label}: {count} paper{'s' * (count != 1)}"
    )
    notes = len(digest.notifications)
    return subject + (f", {notes} notification{'s' * (notes != 1)}" if notes else "")


_BLOCKS: dict[tuple, tuple[str, str]] = {}
_BLOCKS_MAX = 50_000
# Stands in for an item's reasons while its paper is rendered: no escaping changes it.
_REASONS = "\x00reasons\x00"


def paper_block(kind: str, base: str, item: DigestItem) -> str:
    """One paper rendered for the `html` or `txt` part. The paper's part of the block is
    rendered once per process and kept: a paper reaches thousands of readers in one run, each
    with their own reasons, which alone are filled in per reader."""
    head, tail = _paper_parts(kind, base, item.paper)
    reasons = "; ".join(item.reasons)  # what `reasons | join("; ")` renders
    if kind != "html":
        return head + reasons + tail
    # Joined as plain text and marked safe once (Markup's `+` escapes and wraps at each step).
    return Markup("".join((head, escape(reasons), tail)))


def _paper_parts(kind: str, base: str, paper: Paper) -> tuple[str, str]:
    """The paper's block rendered up to its reasons, and after them."""
    key = (kind, base, paper.id, paper.title, paper.abstract, paper.total_upvotes)
    parts = _BLOCKS.get(key)
    if parts is None:
        if len(_BLOCKS) >= _BLOCKS_MAX:
            _BLOCKS.clear()
        block = _template(f"_paper.{kind}").render(
            item=DigestItem(paper, [_REASONS]), paper_url=lambda p: base + paper_path(p.id)
        )
        head, tail = block.split(_REASONS)  # the template shows the reasons exactly once
        parts = _BLOCKS[key] = (str(head), str(tail))  # rendered HTML: `paper_block` marks it
    return parts


def render_digest(
    settings: Settings,
    subscription: Subscription,
    digest: Digest,
    unsubscribe_url: str | None = None,
) -> tuple[str, str]:
    """(HTML, plain text) of a digest."""
    base = settings.base_url.rstrip("/")
    context = {
        "paper_block": lambda kind, item: paper_block(kind, base, item),
        "digest": digest,
        "count": len(digest.paper_ids),
        "site_name": settings.site_name,
        "subject": digest_subject(settings, digest),
        "cadence_words": _cadence_words(subscription),
        "paper_url": lambda p: base + paper_path(p.id),
        "preferences_url": link(settings, subscription.id, "preferences"),
        "unsubscribe_url": unsubscribe_url or link(settings, subscription.id, "unsubscribe"),
        "base": base,
        "notification_labels": NOTIFICATION_LABELS,
    }
    return _template("digest.html").render(context), _template("digest.txt").render(context)


def _base_message(
    settings: Settings, to: str, subject: str, html: str, text: str, message_id: str | None = None
) -> EmailMessage:
    msg = new_message(settings, to, subject, message_id)
    msg["MIME-Version"] = header("MIME-Version", "1.0")  # the one MIME-Version
    # What make_alternative() does to a message without content, with the header parsed once.
    msg["Content-Type"] = header("Content-Type", "multipart/alternative")
    msg.set_payload([_text_part(text, "plain"), _text_part(html, "html")])
    return msg


def _text_part(body: str, subtype: str) -> MIMEPart:
    # Encoded here with C-speed base64: set_content's quoted-printable encoder is per-line Python
    # and made building 10,000 digests 40 s slower.
    part = MIMEPart(policy=MAIL_POLICY)
    part["Content-Type"] = header("Content-Type", f'text/{subtype}; charset="utf-8"')
    part["Content-Transfer-Encoding"] = header("Content-Transfer-Encoding", "base64")
    part.set_payload(_base64_lines(body.encode("utf-8")))
    return part


def _base64_lines(data: bytes) -> str:
    """`base64.encodebytes(data)` as text (76-character lines, each ending in a newline), from
    one encoding call: encodebytes encodes each 57-byte line in its own call."""
    text = base64.b64encode(data).decode("ascii")
    if not text:
        return ""
    return "\n".join([text[i : i + 76] for i in range(0, len(text), 76)]) + "\n"


def _unsubscribe_headers(settings: Settings, msg: EmailMessage, url: str) -> None:
    # Only the https target: paperroute reads no inbound mail, so a mailto: target would let a
    # mail client "unsubscribe" by sending a message nobody processes.
    set_list_unsubscribe(msg, url)
    msg["List-Id"] = header(
        "List-Id", f"{settings.site_name} digest <digest.{mail_domain(settings)}>"
    )


def digest_message(
    settings: Settings, subscription: Subscription, digest: Digest, message_id: str | None = None
) -> EmailMessage:
    """The complete digest email, ready for SMTP; `message_id` is the one the ledger stored."""
    unsubscribe_url = link(settings, subscription.id, "unsubscribe")
    html, text = render_digest(settings, subscription, digest, unsubscribe_url)
    message_id = message_id or digest_message_id(settings, subscription.id, digest.period)
    subject = digest_subject(settings, digest)
    msg = _base_message(settings, subscription.email, subject, html, text, message_id)
    _unsubscribe_headers(settings, msg, unsubscribe_url)
    msg["Auto-Submitted"] = header("Auto-Submitted", "auto-generated")
    return msg


def subscription_message(settings: Settings, subscription: Subscription) -> EmailMessage:
    """The double opt-in email: a link that confirms this request; for an active address (no
    request), a preferences link."""
    context = {
        "site_name": settings.site_name,
        "email": subscription.email,
        "cadence_words": _cadence_words(subscription),
        "confirm_url": link(settings, subscription.id, "confirm", subscription.request_id),
        "preferences_url": link(settings, subscription.id, "preferences"),
        "unsubscribe_url": link(settings, subscription.id, "unsubscribe"),
    }
    if subscription.request_id is None and subscription.status != "pending":
        name, subject = "manage", f"Your {settings.site_name} digest preferences"
    else:
        name, subject = "confirm", f"Confirm your {settings.site_name} digest"
    context["subject"] = subject
    html = _template(f"{name}.html").render(context)
    text = _template(f"{name}.txt").render(context)
    return _base_message(settings, subscription.email, subject, html, text)
