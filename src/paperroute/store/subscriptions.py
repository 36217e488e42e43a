"""Digest subscriptions: double opt-in, preferences, bounces, and what a reader has already seen.

A subscription is created `pending`; only `confirm_subscription` (the click on the emailed link)
makes it `active`, and only active subscriptions are ever sent a digest. A /subscribe for an
address that already has a row changes nothing until the owner of the address confirms it (see
`subscribe`); the subscription then belongs to whoever confirmed. Unsubscribing sets
`unsubscribed`; repeated hard bounces set `paused`.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Engine, func, select, update

from paperroute.store.schema import (
    collection_items,
    collections,
    deliveries,
    sent_papers,
    subscription_requests,
    subscriptions,
    users,
    votes,
)
from paperroute.store.users import EmailError, normalise_email

STATUSES = ("pending", "active", "unsubscribed", "paused")
CADENCES = ("daily", "weekly")
SECTION_NAMES = ("topics", "authors", "categories", "for_you", "trending")
DEFAULT_SECTIONS = {"topics": 3, "authors": 5, "categories": 5, "for_you": 5, "trending": 5}
MAX_SECTION_SIZE = 20
REQUEST_MAX_AGE = timedelta(days=7)  # how long a confirmation link (and its request) works


class SubscriptionError(ValueError):
    """Invalid subscription input; the message names the field."""


@dataclass
class Preferences:
    """What a reader chose: when digests come and which sections they hold (0 = section off)."""

    cadence: str = "daily"
    weekday: int = 0
    send_hour: int = 7
    timezone: str = "UTC"
    sections: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SECTIONS))
    topics: list[str] = field(default_factory=list)
    follow_authors: list[str] = field(default_factory=list)
    follow_categories: list[str] = field(default_factory=list)
    send_empty: bool = False

    def validated(self) -> Preferences:
        """A cleaned copy; raises SubscriptionError naming the first bad field."""
        if not isinstance(self.cadence, str) or self.cadence not in CADENCES:
            raise SubscriptionError(f"cadence: must be one of {', '.join(CADENCES)}")
        weekday = _bounded(self.weekday, "weekday", 6, "0 (Monday) .. 6 (Sunday)")
        send_hour = _bounded(self.send_hour, "send_hour", 23)
        if not isinstance(self.timezone, str):
            raise SubscriptionError("timezone: must be an IANA time zone name")
        check_timezone(self.timezone)
        if not isinstance(self.sections or {}, dict):
            raise SubscriptionError("sections: must map section names to sizes")
        sections = dict(DEFAULT_SECTIONS)
        for name, size in (self.sections or {}).items():
            if name not in SECTION_NAMES:
                raise SubscriptionError(f"sections: unknown section {name!r}")
            sections[name] = _bounded(size, f"sections.{name}", MAX_SECTION_SIZE)
        return Preferences(
            cadence=self.cadence,
            weekday=weekday,
            send_hour=send_hour,
            timezone=self.timezone,
            sections=sections,
            topics=_clean_list(self.topics, "topics", 20, 200),
            follow_authors=_clean_list(self.follow_authors, "follow_authors", 50, 200),
            # arXiv categories, and `venue:<name>` / `journal:<title or ISSN>` (titles run long)
            follow_categories=_clean_list(self.follow_categories, "follow_categories", 50, 200),
            send_empty=bool(self.send_empty),
        )


def _bounded(value: Any, name: str, most: int, shown: str | None = None) -> int:
    """An int in 0..most (an int, or digits from a form); SubscriptionError naming `name`."""
    number = -1
    if isinstance(value, int | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):  # e.g. "x", or more digits than int() takes
            number = int(value)
    if not 0 <= number <= most:
        raise SubscriptionError(f"{name}: must be {shown or f'0 .. {most}'}")
    return number


@dataclass
class Subscription:
    """One subscribed address and its preferences."""

    id: int
    email: str
    status: str
    prefs: Preferences
    user_id: int | None = None
    hard_bounces: int = 0
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    request_id: int | None = None  # set by `subscribe`: the request its confirmation link applies

    @property
    def is_active(self) -> bool:
        """True when digests may be sent."""
        return self.status == "active"


def check_email(email: str) -> str:
    """The normalised address (users.normalise_email); raises SubscriptionError naming the field."""
    try:
        return normalise_email(email)
    except EmailError as exc:
        raise SubscriptionError(f"email: {exc}") from None


def check_timezone(name: str) -> ZoneInfo:
    """The zone for an IANA name; raises SubscriptionError for unknown names."""
    try:
        if name not in _zone_names():
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SubscriptionError(f"timezone: unknown time zone {name!r}") from exc


@cache
def _zone_names() -> frozenset[str]:
    """The IANA zone names this system knows (read from disk once: a pure function of it)."""
    return frozenset(available_timezones() | {"UTC"})


def _clean_list(
    values: Iterable[str] | str | None, name: str, most: int, longest: int
) -> list[str]:
    if isinstance(values, str):
        values = values.splitlines()
    out: list[str] = []
    for raw in values or []:
        value = " ".join(str(raw).split())
        if not value or value.lower() in (v.lower() for v in out):
            continue
        if len(value) > longest:
            raise SubscriptionError(
                f"{name}: {value[:40]!r}... is longer than {longest} characters"
            )
        out.append(value)
    if len(out) > most:
        raise SubscriptionError(f"{name}: at most {most} entries")
    return out


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _row_to_subscription(row: Any) -> Subscription:
    prefs = Preferences(
        cadence=row["cadence"],
        weekday=row["weekday"],
        send_hour=row["send_hour"],
        timezone=row["timezone"],
        sections={**DEFAULT_SECTIONS, **(row["sections"] or {})},
        topics=list(row["topics"] or []),
        follow_authors=list(row["follow_authors"] or []),
        follow_categories=list(row["follow_categories"] or []),
        send_empty=bool(row["send_empty"]),
    )
    return Subscription(
        id=row["id"],
        email=row["email"],
        status=row["status"],
        prefs=prefs,
        user_id=row["user_id"],
        hard_bounces=row["hard_bounces"],
        created_at=_utc(row["created_at"]),
        confirmed_at=_utc(row["confirmed_at"]),
    )


def _prefs_row(prefs: Preferences) -> dict[str, Any]:
    return {
        "cadence": prefs.cadence,
        "weekday": prefs.weekday,
        "send_hour": prefs.send_hour,
        "timezone": prefs.timezone,
        "sections": prefs.sections,
        "topics": prefs.topics,
        "follow_authors": prefs.follow_authors,
        "follow_categories": prefs.follow_categories,
        "send_empty": prefs.send_empty,
    }


def _row_by_email(conn, address: str) -> Any:
    query = select(subscriptions).where(subscriptions.c.email == address)
    return conn.execute(query).mappings().first()


def _row_by_id(conn, subscription_id: int) -> Any:
    query = select(subscriptions).where(subscriptions.c.id == subscription_id)
    return conn.execute(query).mappings().first()


def subscribe(
    engine: Engine, email: str, prefs: Preferences | None = None, user_id: int | None = None
) -> Subscription:
    """Ask for a digest; `.request_id` is the request to confirm (None: the address is active).

    Nothing the request carries changes an existing subscription: its preferences wait in a
    request row that only the confirmation link sent to the address applies (a stranger cannot
    overwrite or take over someone's subscription). A new address gets a `pending` row;
    `user_id` is recorded only on that new row and only callers that know the reader owns the
    address pass it. An active or paused address gets None: the caller mails a preferences link.
    """
    address = check_email(email)
    clean = (prefs or Preferences()).validated()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        row = _row_by_email(conn, address)
        if row is None:
            values = {"email": address, "user_id": user_id, "status": "pending"}
            new_id = conn.execute(
                subscriptions.insert().values(
                    **values, hard_bounces=0, created_at=now, **_prefs_row(clean)
                )
            ).inserted_primary_key[0]
            row = _row_by_id(conn, new_id)
        if row["status"] not in ("pending", "unsubscribed"):
            return _row_to_subscription(row)
        # Requests outlive their link by nothing: confirm links expire after 7 days.
        conn.execute(
            subscription_requests.delete().where(
                subscription_requests.c.created_at < now - REQUEST_MAX_AGE
            )
        )
        request_id = conn.execute(
            subscription_requests.insert().values(
                subscription_id=row["id"], preferences=vars(clean), created_at=now
            )
        ).inserted_primary_key[0]
    found = _row_to_subscription(row)
    found.request_id = request_id
    return found


def subscribe_own_address(
    engine: Engine, user_id: int, email: str, prefs: Preferences
) -> Subscription:
    """Subscribe a signed-in reader's account address at once (signing in proved they own it)."""
    address = check_email(email)
    clean = prefs.validated()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        row = _row_by_email(conn, address)
        values = {"status": "active", "user_id": user_id, "hard_bounces": 0, **_prefs_row(clean)}
        if row is None:
            new_id = conn.execute(
                subscriptions.insert().values(
                    email=address, created_at=now, confirmed_at=now, **values
                )
            ).inserted_primary_key[0]
        else:
            new_id = row["id"]
            values["confirmed_at"] = row["confirmed_at"] or now
            conn.execute(update(subscriptions).where(subscriptions.c.id == new_id).values(values))
        conn.execute(
            subscription_requests.delete().where(subscription_requests.c.subscription_id == new_id)
        )
        return _row_to_subscription(_row_by_id(conn, new_id))


def confirm_subscription(
    engine: Engine,
    subscription_id: int,
    request_id: int | None = None,
    confirmer_id: int | None = None,
) -> Subscription | None:
    """Activate a subscription (the double opt-in click); None if it no longer exists.

    With `request_id` (links sent since requests were kept) the request's preferences take
    effect, and every other waiting request of the address is dropped; a request already used
    or dropped changes nothing. The owner becomes whoever confirmed: `confirmer_id` (the reader
    signed in while clicking), else the account with this address, else nobody.
    """
    now = datetime.now(UTC)
    with engine.begin() as conn:
        row = _row_by_id(conn, subscription_id)
        if row is None:
            return None
        values: dict[str, Any] = {"hard_bounces": 0}
        if request_id is not None:
            wanted = conn.execute(
                select(subscription_requests.c.preferences).where(
                    subscription_requests.c.id == request_id,
                    subscription_requests.c.subscription_id == subscription_id,
                )
            ).scalar()
            if wanted is None:
                return _row_to_subscription(row)
            values.update(_prefs_row(_prefs_from_json(wanted)), status="active")
        elif row["status"] == "pending":
            values["status"] = "active"
        else:
            return _row_to_subscription(row)
        values["confirmed_at"] = now
        values["user_id"] = (
            confirmer_id
            or conn.execute(select(users.c.id).where(users.c.email == row["email"])).scalar()
        )
        conn.execute(
            update(subscriptions).where(subscriptions.c.id == subscription_id).values(values)
        )
        conn.execute(
            subscription_requests.delete().where(
                subscription_requests.c.subscription_id == subscription_id
            )
        )
        return _row_to_subscription(_row_by_id(conn, subscription_id))


def _prefs_from_json(data: dict[str, Any]) -> Preferences:
    fields = {k: v for k, v in data.items() if k in Preferences.__dataclass_fields__}
    return Preferences(**fields).validated()


def unsubscribe(engine: Engine, subscription_id: int) -> Subscription | None:
    """Stop every digest to this subscription; idempotent."""
    with engine.begin() as conn:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(status="unsubscribed")
        )
    return get_subscription(engine, subscription_id)


def resume_subscription(engine: Engine, subscription_id: int) -> Subscription | None:
    """Re-activate a paused or unsubscribed subscription that was confirmed before."""
    with engine.begin() as conn:
        conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.id == subscription_id,
                subscriptions.c.confirmed_at.is_not(None),
            )
            .values(status="active", hard_bounces=0)
        )
    return get_subscription(engine, subscription_id)


def update_preferences(
    engine: Engine, subscription_id: int, prefs: Preferences
) -> Subscription | None:
    """Replace the preferences of a subscription."""
    clean = prefs.validated()
    with engine.begin() as conn:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(_prefs_row(clean))
        )
    return get_subscription(engine, subscription_id)


def get_subscription(engine: Engine, subscription_id: int) -> Subscription | None:
    """A subscription by id, or None."""
    with engine.connect() as conn:
        row = (
            conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
            .mappings()
            .first()
        )
    return _row_to_subscription(row) if row else None


def get_subscription_by_email(engine: Engine, email: str) -> Subscription | None:
    """A subscription by address, or None."""
    try:
        address = check_email(email)
    except SubscriptionError:
        return None
    with engine.connect() as conn:
        row = (
            conn.execute(select(subscriptions).where(subscriptions.c.email == address))
            .mappings()
            .first()
        )
    return _row_to_subscription(row) if row else None


def subscription_of_user(engine: Engine, user_id: int, email: str) -> Subscription | None:
    """A signed-in reader's subscription: the one of their account address (signing in proved
    they own it), else one they confirmed for another address; None when neither exists."""
    found = get_subscription_by_email(engine, email)
    if found is not None:
        return found
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(subscriptions)
                .where(subscriptions.c.user_id == user_id)
                .order_by(subscriptions.c.id)
            )
            .mappings()
            .first()
        )
    return _row_to_subscription(row) if row else None


def follow_author(
    engine: Engine, user_id: int, email: str, name: str, follow: bool = True
) -> list[str]:
    """Follow (or stop following) an author: their name goes in the member's digest
    subscription's `follow_authors`, which the digest and For-you both read. A member without a
    subscription gets one that sends nothing (`unsubscribed`) until they turn the digest on."""
    return _follow(engine, user_id, email, "follow_authors", name, follow)


def follow_tag(
    engine: Engine, user_id: int, email: str, tag: str, follow: bool = True
) -> list[str]:
    """Follow (or stop following) a category, `venue:<name>` or `journal:<ISSN>` in the member's
    digest (`follow_categories`), as the digest form does; a subscription is made as for
    authors."""
    return _follow(engine, user_id, email, "follow_categories", tag, follow)


def _follow(engine: Engine, user_id: int, email: str, field: str, value: str, follow: bool):
    found = subscription_of_user(engine, user_id, email)
    if found is None:
        if not follow:
            return []
        with engine.begin() as conn:
            conn.execute(
                subscriptions.insert().values(
                    email=check_email(email),
                    user_id=user_id,
                    status="unsubscribed",
                    hard_bounces=0,
                    created_at=datetime.now(UTC),
                    **_prefs_row(Preferences()),
                )  # fmt: skip
            )
        found = subscription_of_user(engine, user_id, email)
        assert found is not None
    key = " ".join(value.lower().split())
    values = [v for v in getattr(found.prefs, field) if " ".join(v.lower().split()) != key]
    if follow:
        values.append(" ".join(value.split()))
    setattr(found.prefs, field, values)
    update_preferences(engine, found.id, found.prefs)  # validates: length, at most 50
    return values


def author_followers(engine: Engine) -> dict[str, set[int]]:
    """author_key -> the members who follow that author (their subscription's `follow_authors`,
    whatever its digest status: following is not the same as wanting the digest)."""
    from paperroute.store.papers import author_key

    query = select(subscriptions.c.user_id, subscriptions.c.follow_authors).where(
        subscriptions.c.user_id.is_not(None)
    )
    found: dict[str, set[int]] = defaultdict(set)
    with engine.connect() as conn:
        for user_id, names in conn.execute(query):
            for name in names or []:
                found[author_key(name)].add(user_id)
    return dict(found)


def list_subscriptions(engine: Engine, status: str | None = "active") -> list[Subscription]:
    """Subscriptions with a status (all when None), by id."""
    query = select(subscriptions).order_by(subscriptions.c.id)
    if status:
        query = query.where(subscriptions.c.status == status)
    with engine.connect() as conn:
        return [_row_to_subscription(r) for r in conn.execute(query).mappings()]


def record_hard_bounce(engine: Engine, subscription_id: int, pause_after: int) -> bool:
    """Count a permanent delivery failure; pause the address after `pause_after`. True if paused."""
    with engine.begin() as conn:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(hard_bounces=subscriptions.c.hard_bounces + 1)
        )
        result = conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.id == subscription_id,
                subscriptions.c.hard_bounces >= pause_after,
                subscriptions.c.status == "active",
            )
            .values(status="paused")
        )
    return result.rowcount > 0


def sent_paper_ids(engine: Engine, subscription_ids: Sequence[int]) -> dict[int, set[str]]:
    """Papers each subscription has already received in a digest."""
    found: dict[int, set[str]] = defaultdict(set)
    with engine.connect() as conn:
        for start in range(0, len(subscription_ids), 500):
            chunk = list(subscription_ids[start : start + 500])
            query = select(sent_papers.c.subscription_id, sent_papers.c.paper_id).where(
                sent_papers.c.subscription_id.in_(chunk)
            )
            for sid, pid in conn.execute(query):
                found[sid].add(pid)
    return found


def last_sent_at(engine: Engine, subscription_ids: Sequence[int]) -> dict[int, datetime]:
    """When each subscription was last sent a digest (missing when never)."""
    found: dict[int, datetime] = {}
    with engine.connect() as conn:
        for start in range(0, len(subscription_ids), 500):
            chunk = list(subscription_ids[start : start + 500])
            query = (
                select(deliveries.c.subscription_id, func.max(deliveries.c.sent_at))
                .where(deliveries.c.subscription_id.in_(chunk), deliveries.c.status == "sent")
                .group_by(deliveries.c.subscription_id)
            )
            for sid, when in conn.execute(query):
                if when is not None:
                    found[sid] = _utc(when)
    return found


def reader_libraries(engine: Engine, user_ids: Sequence[int]) -> dict[int, list[str]]:
    """Paper ids each user saved (in any collection) or upvoted, newest first."""
    found: dict[int, dict[str, datetime]] = defaultdict(dict)
    ids = [u for u in user_ids if u is not None]
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            voted = select(votes.c.user_id, votes.c.paper_id, votes.c.created_at).where(
                votes.c.user_id.in_(chunk)
            )
            saved = (
                select(
                    collections.c.user_id, collection_items.c.paper_id, collection_items.c.added_at
                )
                .join(collections, collections.c.id == collection_items.c.collection_id)
                .where(collections.c.user_id.in_(chunk))
            )
            for query in (voted, saved):
                for uid, pid, when in conn.execute(query):
                    when = _utc(when) or datetime.min.replace(tzinfo=UTC)
                    if pid not in found[uid] or when > found[uid][pid]:
                        found[uid][pid] = when
    return {
        uid: [p for p, _ in sorted(papers.items(), key=lambda kv: kv[1], reverse=True)]
        for uid, papers in found.items()
    }
