"""Notifications: what a member is told in the app, each member's mail setting, and the mail
ledger that sends each notification at most once.

One row per (member, dedupe key): a second notification about the same comment or paper is
dropped by the unique constraint, so nobody is told twice (a reply that also mentions you is one
notification, the reply). Mail follows store/deliveries.py: a row waiting for mail is `pending`;
a sender takes a batch with one conditional UPDATE that only matches rows nobody holds (`claimed`
with an expired lease, or `retry` that is due), marks them `sent` right after the SMTP server's
250, and `retry`/`failed` otherwise. Rows of members who want a daily batch are `gathered`, due
at the next gathering time; a member with an active digest subscription gets them in the digest
instead (`claim_gathered`, called by digest/delivery.py), so they are never mailed both ways.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from paperroute.store.engine import dialect_insert
from paperroute.store.schema import (
    NOTIFICATION_KINDS,
    author_claims,
    collection_items,
    collections,
    comments,
    notification_settings,
    notifications,
    papers,
    subscriptions,
    users,
)

KINDS = NOTIFICATION_KINDS
MAIL_MODES = ("instant", "digest", "off")
GATHER_HOUR_UTC = 7  # when a member's daily batch of notification mail is due

# A comment post's statements, built once (store/comments.py says why: ~20 us to run a built
# statement, ~170 us to build one).
_SETTINGS_OF = select(notification_settings).where(
    notification_settings.c.user_id.in_(bindparam("user_ids", expanding=True))
)
_INSERT_NEW = {
    name: dialect.insert(notifications)
    .on_conflict_do_nothing(index_elements=["user_id", "dedupe"])
    .returning(notifications.c.user_id, notifications.c.dedupe)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_TOLD_OF_COMMENTS = union_all(
    select(author_claims.c.user_id, literal("a").label("why")).where(
        author_claims.c.paper_id == bindparam("paper_id"),
        author_claims.c.status == "approved",
        author_claims.c.user_id.is_not(None),
    ),
    select(collections.c.user_id, literal("s").label("why"))
    .select_from(
        collection_items.join(collections, collections.c.id == collection_items.c.collection_id)
    )
    .where(collection_items.c.paper_id == bindparam("paper_id")),
)


@dataclass
class NotificationSettings:
    """How a member wants notification mail: `instant`, `digest` (daily batch) or `off`, and
    the kinds they unsubscribed from."""

    mail: str = "instant"
    muted: tuple[str, ...] = ()


@dataclass
class Notification:
    """One notification as the page and the mail show it."""

    id: int
    user_id: int
    kind: str
    paper_id: str | None
    paper_title: str | None
    comment_id: int | None
    comment_body: str | None
    comment_html: str | None
    actor: str | None
    created_at: datetime
    read: bool
    message_id: str | None = None
    gathered: bool = False  # mailed in the member's daily batch


@dataclass
class NewNotification:
    """A notification to record (community/notifications.py decides who gets what)."""

    user_id: int
    kind: str
    dedupe: str
    paper_id: str | None = None
    comment_id: int | None = None
    actor_id: int | None = None


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def get_settings(engine: Engine, user_id: int) -> NotificationSettings:
    """The member's notification mail setting (instant mail for everything by default)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(notification_settings).where(notification_settings.c.user_id == user_id)
        ).first()
    if row is None:
        return NotificationSettings()
    return NotificationSettings(row.mail, tuple(k for k in row.muted or [] if k in KINDS))


def set_settings(
    engine: Engine, user_id: int, mail: str, muted: Sequence[str] | None = None
) -> NotificationSettings:
    """Store the member's mail setting; `muted=None` keeps the kinds already muted."""
    if mail not in MAIL_MODES:
        raise ValueError(f"notification mail: {mail!r} is not one of {', '.join(MAIL_MODES)}")
    current = get_settings(engine, user_id)
    kept = current.muted if muted is None else tuple(k for k in KINDS if k in set(muted))
    values = {"mail": mail, "muted": list(kept), "updated_at": datetime.now(UTC)}
    with engine.begin() as conn:
        stmt = dialect_insert(conn, notification_settings).values(user_id=user_id, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values))
    return NotificationSettings(mail, kept)


def mute_kind(engine: Engine, user_id: int, kind: str) -> NotificationSettings:
    """Stop mail of one kind (`all`: every notification mail), keeping the in-app ones."""
    current = get_settings(engine, user_id)
    if kind == "all":
        return set_settings(engine, user_id, "off")
    if kind not in KINDS:
        raise ValueError(f"notification kind {kind!r}: unknown")
    return set_settings(engine, user_id, current.mail, (*current.muted, kind))


def next_gathering(now: datetime) -> datetime:
    """When notifications gathered for a daily batch go out: the next GATHER_HOUR_UTC."""
    due = now.astimezone(UTC).replace(hour=GATHER_HOUR_UTC, minute=0, second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)


def add_notifications(
    engine: Engine, items: Sequence[NewNotification], now: datetime | None = None
) -> list[int]:
    """Record notifications, in order; one already recorded for a member's dedupe key (or an
    earlier item with it) is dropped. Returns the members newly notified."""
    with engine.begin() as conn:
        return add_notifications_in(conn, items, now)


def add_notifications_in(
    conn: Connection, items: Sequence[NewNotification], now: datetime | None = None
) -> list[int]:
    """`add_notifications` inside the caller's transaction (a comment's post): two statements,
    the members' mail settings and one multi-row insert."""
    now = now or datetime.now(UTC)
    first: dict[tuple[int, str], NewNotification] = {}
    for item in items:  # the first that applies, per member and dedupe key
        first.setdefault((item.user_id, item.dedupe), item)
    if not first:
        return []
    rows = conn.execute(_SETTINGS_OF, {"user_ids": sorted({uid for uid, _ in first})}).all()
    prefs = {r.user_id: NotificationSettings(r.mail, tuple(r.muted or [])) for r in rows}
    values = []
    for item in first.values():
        pref = prefs.get(item.user_id, NotificationSettings())
        mailed = pref.mail != "off" and item.kind not in pref.muted
        gathered = pref.mail == "digest"
        values.append(dict(
            user_id=item.user_id, kind=item.kind, dedupe=item.dedupe,
            paper_id=item.paper_id, comment_id=item.comment_id, actor_id=item.actor_id,
            created_at=now, mail_status="pending" if mailed else None,
            gathered=gathered, attempts=0,
            mail_due_at=(next_gathering(now) if gathered else now) if mailed else None,
        ))  # fmt: skip
    # Parameters, not .values(rows): that compiled the statement anew on every call (a third
    # of a comment post's CPU); a list is SQLAlchemy's "insertmanyvalues", one statement.
    stmt = _INSERT_NEW[conn.dialect.name]
    rows = conn.execute(stmt, values[0] if len(values) == 1 else values)
    inserted = {(r.user_id, r.dedupe) for r in rows}
    return [uid for uid, dedupe in first if (uid, dedupe) in inserted]


def _select_notifications():
    actor = users.alias("actor")
    return select(
        notifications.c.id,
        notifications.c.user_id,
        notifications.c.kind,
        notifications.c.paper_id,
        papers.c.title,
        notifications.c.comment_id,
        comments.c.body,
        comments.c.html,
        comments.c.deleted_at,
        comments.c.hidden_at,
        actor.c.display_name,
        actor.c.email,
        notifications.c.actor_id,
        notifications.c.created_at,
        notifications.c.read_at,
        notifications.c.message_id,
        notifications.c.gathered,
    ).select_from(
        notifications.outerjoin(papers, papers.c.id == notifications.c.paper_id)
        .outerjoin(comments, comments.c.id == notifications.c.comment_id)
        .outerjoin(actor, actor.c.id == notifications.c.actor_id)
    )


def _to_notification(row) -> Notification:
    gone = row.deleted_at is not None or row.hidden_at is not None
    actor = None
    if row.actor_id is not None:
        actor = row.display_name or row.email.split("@", 1)[0]
    return Notification(
        id=row.id,
        user_id=row.user_id,
        kind=row.kind,
        paper_id=row.paper_id,
        paper_title=row.title,
        comment_id=row.comment_id,
        comment_body=None if gone else row.body,
        comment_html=None if gone else row.html,
        actor=actor,
        created_at=_utc(row.created_at),
        read=row.read_at is not None,
        message_id=row.message_id,
        gathered=bool(row.gathered),
    )


def list_notifications(
    engine: Engine, user_id: int, limit: int = 50, offset: int = 0
) -> list[Notification]:
    """The member's notifications, newest first."""
    query = (
        _select_notifications()
        .where(notifications.c.user_id == user_id)
        .order_by(notifications.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as conn:
        return [_to_notification(r) for r in conn.execute(query)]


def unread_count(engine: Engine, user_id: int) -> int:
    """How many of the member's notifications are unread."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(notifications)
            .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
        ).scalar_one()


def mark_read(engine: Engine, user_id: int, ids: Sequence[int] | None = None) -> int:
    """Mark the member's notifications read (all of them when `ids` is None); returns how many."""
    query = update(notifications).where(
        notifications.c.user_id == user_id, notifications.c.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(notifications.c.id.in_(list(ids)))
    with engine.begin() as conn:
        return conn.execute(query.values(read_at=datetime.now(UTC))).rowcount


def claim_mail(
    engine: Engine, lease_seconds: float, now: datetime | None = None, limit: int = 200
) -> tuple[str, list[Notification]]:
    """Take up to `limit` due notification mails for this caller: (claim token, rows).

    The UPDATE matches only rows nobody holds, so two senders never take the same row; the
    token names this claim's rows for mark_mail."""
    now = now or datetime.now(UTC)
    due = and_(
        or_(
            and_(notifications.c.mail_status == "pending", notifications.c.mail_due_at <= now),
            and_(notifications.c.mail_status == "retry", notifications.c.mail_due_at <= now),
            and_(notifications.c.mail_status == "claimed", notifications.c.claimed_until < now),
        ),
        # Gathered rows of digest readers go out with their digest (claim_gathered).
        or_(notifications.c.gathered.is_(False), notifications.c.user_id.not_in(_digest_readers())),
    )
    return _claim(engine, due, lease_seconds, now, limit)


def _digest_readers():
    return select(subscriptions.c.user_id).where(
        subscriptions.c.status == "active", subscriptions.c.user_id.is_not(None)
    )


def claim_gathered(
    engine: Engine, user_id: int, lease_seconds: float, now: datetime | None = None
) -> tuple[str, list[Notification]]:
    """Take a digest reader's gathered notifications for their digest, whenever it goes out:
    (claim token, rows), closed with mark_mail like claim_mail's."""
    now = now or datetime.now(UTC)
    due = and_(
        notifications.c.user_id == user_id,
        notifications.c.gathered.is_(True),
        or_(
            notifications.c.mail_status.in_(("pending", "retry")),
            and_(notifications.c.mail_status == "claimed", notifications.c.claimed_until < now),
        ),
    )
    return _claim(engine, due, lease_seconds, now, 200)


def _claim(
    engine: Engine, due, lease_seconds: float, now: datetime, limit: int
) -> tuple[str, list[Notification]]:
    token = secrets.token_hex(16)
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                select(notifications.c.id).where(due).order_by(notifications.c.id).limit(limit)
            ).scalars()
        )
        if not ids:
            return token, []
        conn.execute(
            update(notifications)
            .where(notifications.c.id.in_(ids), due)
            .values(
                mail_status="claimed",
                claimed_by=token,
                claimed_until=now + timedelta(seconds=lease_seconds),
                attempts=notifications.c.attempts + 1,
            )
        )
    query = _select_notifications().where(notifications.c.claimed_by == token,
                                          notifications.c.mail_status == "claimed")  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(notifications.c.id)).all()
    return token, [_to_notification(r) for r in rows]


def mail_recipients(engine: Engine, user_ids: Sequence[int]) -> dict[int, str]:
    """member id -> email address, for the members of a claim."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(users.c.id, users.c.email).where(users.c.id.in_(list(set(user_ids))))
        ).all()
    return {r.id: r.email for r in rows}


def mark_mail(
    engine: Engine,
    token: str,
    ids: Sequence[int],
    status: str,
    *,
    message_id: str | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    """Close claimed rows as `sent`, `failed` or `skipped`, or release them as `retry`."""
    if status not in ("sent", "failed", "skipped", "retry"):
        raise ValueError(f"notifications: not a mail status: {status!r}")
    values: dict = {"mail_status": status, "claimed_until": None, "last_error": error}
    if status == "sent":
        values.update(mailed_at=datetime.now(UTC), message_id=message_id)
    if status == "retry":
        values["mail_due_at"] = retry_at
    with engine.begin() as conn:
        conn.execute(
            update(notifications)
            .where(notifications.c.id.in_(list(ids)), notifications.c.claimed_by == token)
            .values(**values)
        )


def mail_states(engine: Engine, user_id: int) -> list[tuple[str, str | None, str | None]]:
    """(kind, mail status, message id) of the member's notifications, oldest first (tests,
    reports)."""
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(
                    notifications.c.kind, notifications.c.mail_status, notifications.c.message_id
                )
                .where(notifications.c.user_id == user_id)
                .order_by(notifications.c.id)
            )
        ]


def told_of_comments(conn: Connection, paper_id: str) -> tuple[list[int], list[int]]:
    """(claimed authors, savers) of a paper, the members told of a new comment on it, in one
    query: authors with an approved claim, members who saved it into any collection."""
    found: dict[str, set[int]] = {"a": set(), "s": set()}
    for uid, why in conn.execute(_TOLD_OF_COMMENTS, {"paper_id": paper_id}):
        found[why].add(uid)
    return sorted(found["a"]), sorted(found["s"])
