"""Who is told about what, and the mail that tells them.

`notify_comment` fans a new comment out to the replied-to author, the mentioned members, the
paper's claimed authors and the members who saved it; `notify_followers_of_new_papers` tells
the followers of a new paper's authors (every ingest calls it through `Ingest.on_added`, wired
in the composition roots). Both only record rows (store/notifications.py);
`send_notification_mail` mails what is due through the ledger there: instant notifications one
mail each, a member's gathered ones in one daily mail. Every mail carries RFC 8058 one-click
unsubscribe for its kind, and a Message-ID fixed by its rows, so a resend after a crash is
recognisably the same message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy import Connection, Engine

from paperroute.config import Settings
from paperroute.mail import mail_domain, new_message, set_list_unsubscribe
from paperroute.mail.smtp import Mailer, PermanentMailError, TemporaryMailError, send_with_retries
from paperroute.store import notifications as store
from paperroute.store.comments import Comment
from paperroute.store.notifications import NewNotification, Notification
from paperroute.store.papers import author_key, get_papers
from paperroute.store.subscriptions import author_followers

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
UNSUBSCRIBE_PATH = "/notifications/unsubscribe"
UNSUBSCRIBE_MAX_AGE = 180 * 24 * 3600  # an old mail must still let a member leave
RETRY_SECONDS = 600.0
LABELS = {
    "reply": "replied to your comment",
    "mention": "mentioned you",
    "authored_paper": "commented on a paper you authored",
    "saved_paper": "commented on a paper you saved",
    "followed_author": "new paper by an author you follow",
}


def notify_comment(conn: Connection, comment: Comment, mentioned: Iterable[int] = ()) -> list[int]:
    """Record the notifications a new comment causes, in its own transaction (Discussion.post);
    returns the members notified. Three statements.

    One per member and comment, the first that applies: a reply to them (the comment's
    `parent_author`), a mention of them, a comment on a paper they authored (an approved claim),
    a comment on a paper they saved. Nobody is notified of their own comment."""
    about = dict(dedupe=f"comment:{comment.id}", paper_id=comment.paper_id,
                 comment_id=comment.id, actor_id=comment.user_id)  # fmt: skip
    items: list[NewNotification] = []
    if comment.parent_author is not None:
        items.append(NewNotification(comment.parent_author, "reply", **about))
    items += [NewNotification(uid, "mention", **about) for uid in mentioned]
    authors, savers = store.told_of_comments(conn, comment.paper_id)
    items += [NewNotification(uid, "authored_paper", **about) for uid in authors]
    items += [NewNotification(uid, "saved_paper", **about) for uid in savers]
    items = [i for i in items if i.user_id != comment.user_id]
    return store.add_notifications_in(conn, items) if items else []


def notify_new_paper_by_followed_author(
    engine: Engine, paper_id: str, follower_ids: Iterable[int], actor_id: int | None = None
) -> list[int]:
    """Tell each follower of an author about a new paper of theirs, once per member and paper.

    In-app notifications and mail (instant or gathered, per member setting) then work as for
    comments. Returns the members newly notified (a second call for the same paper notifies
    nobody)."""
    items = [
        NewNotification(uid, "followed_author", f"paper:{paper_id}", paper_id=paper_id,
                        actor_id=actor_id)
        for uid in sorted(set(follower_ids))
    ]  # fmt: skip
    return store.add_notifications(engine, items) if items else []


def notify_followers_of_new_papers(
    engine: Engine, paper_ids: Sequence[str], max_age_days: int = 14, now: datetime | None = None
) -> list[int]:
    """Tell "new papers by authors you follow": for each paper new to the store (Ingest's
    `on_added`), the members who follow one of its authors. Only papers announced or published
    in the last `max_age_days` count (the roots pass the submission age limit: what is new
    enough to submit is new enough to tell), so a back-catalogue import is quiet. Returns the
    members newly notified."""
    follows = author_followers(engine)
    if not follows or not paper_ids:
        return []
    since = (now or datetime.now(UTC)).date() - timedelta(days=max_age_days)
    notified: list[int] = []
    for start in range(0, len(paper_ids), 500):
        for paper in get_papers(engine, paper_ids[start : start + 500], with_versions=False):
            day = paper.announced or (paper.published.date() if paper.published else None)
            if day is None or day < since:
                continue
            followers = {u for a in paper.authors for u in follows.get(author_key(a.name), ())}
            if followers:
                notified += notify_new_paper_by_followed_author(engine, paper.id, followers)
    return notified


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt="paperroute.notify")


def unsubscribe_link(settings: Settings, user_id: int, kind: str) -> str:
    """The signed one-click link that stops mail of `kind` (`all`: every notification mail)."""
    token = _serializer(settings).dumps({"u": user_id, "k": kind})
    return f"{settings.base_url.rstrip('/')}{UNSUBSCRIBE_PATH}?{urlencode({'token': token})}"


def read_unsubscribe(settings: Settings, token: str) -> tuple[int, str]:
    """(member id, kind) of a valid unsubscribe token; ValueError saying why otherwise."""
    try:
        data = _serializer(settings).loads(token or "", max_age=UNSUBSCRIBE_MAX_AGE)
    except SignatureExpired:
        raise ValueError("this link has expired; change your settings on the site") from None
    except BadSignature:
        raise ValueError("this link is not valid") from None
    kinds = (*store.KINDS, "all")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("u"), int)
        or data.get("k") not in kinds
    ):
        raise ValueError("this link is not valid")
    return data["u"], data["k"]


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["labels"] = LABELS
    return env


def notification_message(settings: Settings, to: str, items: list[Notification]):
    """The mail for one notification, or one daily batch of them (`gathered`)."""
    gathered = items[0].gathered
    kind = "all" if gathered else items[0].kind
    unsubscribe = unsubscribe_link(settings, items[0].user_id, kind)
    first = items[0]
    if gathered:
        subject = f"{settings.site_name}: {len(items)} new notification" + "s" * (len(items) > 1)
    else:
        who = first.actor or "Someone"
        subject = f"{settings.site_name}: {who} {LABELS[first.kind]}"
        if first.kind == "followed_author":
            subject = f"{settings.site_name}: {LABELS[first.kind]}: {first.paper_title}"
    message_id = f"<notify-{first.id}-{len(items)}@{mail_domain(settings)}>"
    msg = new_message(settings, to, subject, message_id=message_id)
    context = dict(
        items=items, base=settings.base_url.rstrip("/"), site=settings.site_name,
        unsubscribe=unsubscribe, gathered=gathered, kind=kind, safe=Markup,
    )  # fmt: skip
    msg.set_content(_env().get_template("notification.txt").render(**context))
    msg.add_alternative(_env().get_template("notification.html").render(**context), subtype="html")
    set_list_unsubscribe(msg, unsubscribe)
    msg["List-Id"] = f"{settings.site_name} notifications <notify.{mail_domain(settings)}>"
    return msg


@dataclass
class MailReport:
    """What one sending run did."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    stopped: str | None = None


def _groups(items: list[Notification]) -> list[list[Notification]]:
    """Instant notifications one mail each; a member's gathered ones in one mail."""
    gathered: dict[int, list[Notification]] = {}
    out: list[list[Notification]] = []
    for item in items:
        if item.gathered:
            if item.user_id not in gathered:
                gathered[item.user_id] = []
                out.append(gathered[item.user_id])
            gathered[item.user_id].append(item)
        else:
            out.append([item])
    return out


def send_notification_mail(
    settings: Settings,
    engine: Engine,
    now: datetime | None = None,
    lease_seconds: float = 300.0,
    mailer: Callable[[], Mailer] | None = None,
) -> MailReport:
    """Mail every due notification, each once (ledger claims); safe in several processes.

    A process passes its `mailer` (services.Services.mailer); without it one is made here."""
    report = MailReport()
    if not settings.smtp_configured:
        report.stopped = "SMTP is not configured: set PAPERROUTE_SMTP_HOST"
        return report
    token, items = store.claim_mail(engine, lease_seconds, now)
    if not items:
        return report
    emails = store.mail_recipients(engine, [i.user_id for i in items])
    groups = _groups(items)
    with (mailer or partial(Mailer, settings))() as connection:
        for n, group in enumerate(groups):
            ids = [i.id for i in group]
            address = emails.get(group[0].user_id)
            if address is None:
                store.mark_mail(engine, token, ids, "skipped", error="member gone")
                report.skipped += 1
                continue
            msg = notification_message(settings, address, group)
            try:
                send_with_retries(connection, msg, attempts=2, backoff=0.5)
            except PermanentMailError as exc:
                store.mark_mail(engine, token, ids, "failed", error=str(exc))
                report.failed += 1
                continue
            except TemporaryMailError as exc:
                later = datetime.now(UTC) + timedelta(seconds=RETRY_SECONDS)
                rest = [i.id for g in groups[n:] for i in g]
                store.mark_mail(engine, token, rest, "retry", error=str(exc), retry_at=later)
                report.deferred += len(groups) - n
                report.stopped = f"SMTP unavailable: {exc}"
                return report
            # At once after the server's 250: the only window for a duplicate ends here.
            store.mark_mail(engine, token, ids, "sent", message_id=msg["Message-ID"])
            report.sent += 1
    return report


class MailKicker:
    """Sends due notification mail in one background thread soon after a comment, so "at once"
    means seconds without the request waiting for SMTP; the worker's job catches anything a
    restart drops (the ledger keeps the two from sending one row twice). It sends through
    `mailer`, the process's mail connections (services.Services.mailer)."""

    def __init__(
        self, settings: Settings, engine: Engine, mailer: Callable[[], Mailer] | None = None
    ) -> None:
        self.settings, self.engine, self.mailer = settings, engine, mailer
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def kick(self) -> None:
        """Ask for a sending run (starts the thread on first use)."""
        if not self.settings.smtp_configured:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="notify-mail", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                send_notification_mail(self.settings, self.engine, mailer=self.mailer)
            except Exception:  # the database or SMTP may be briefly away; the job retries
                log.exception("notification mail run failed")

    def close(self) -> None:
        """Stop the thread (app shutdown)."""
        self._stop.set()
        self._wake.set()
