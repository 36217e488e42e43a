"""Community submissions: a member puts a paper on the daily page, one submission per paper.

The paper itself is fetched and stored by the ingest use case (sources/submit.py); this module
records who submitted it and enforces the limits that need the store: the paper's age, one
submission per paper (the second submitter is told who was first) and a per-member daily quota,
stricter for new accounts. A deleted member's submissions stay, shown as "deleted member".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.exc import IntegrityError

from paperroute.models import Paper, Submission
from paperroute.store.engine import ByIds
from paperroute.store.schema import papers, submissions, users
from paperroute.store.users import User, public_name


class SubmissionError(ValueError):
    """A submission that is refused; the message says why, for the member who tried."""


@dataclass(frozen=True)
class Limits:
    """The instance's submission limits (from Settings)."""

    max_age_days: int = 14
    daily_quota: int = 5
    new_account_days: int = 7
    new_account_quota: int = 1
    rate_per_hour: int = 20

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """The limits a Settings object sets."""
        return cls(
            max_age_days=settings.submission_max_age_days,
            daily_quota=settings.submission_daily_quota,
            new_account_days=settings.new_account_days,
            new_account_quota=settings.new_account_daily_quota,
            rate_per_hour=settings.community_rate_per_hour,
        )

    def is_new(self, user: User, now: datetime | None = None) -> bool:
        """True while the account is younger than `new_account_days`."""
        created = _utc(user.created_at)
        now = now or datetime.now(UTC)
        return bool(created and now - created < timedelta(days=self.new_account_days))

    def quota_for(self, user: User, now: datetime) -> int:
        """Submissions a day for this member: fewer while the account is new."""
        if self.is_new(user, now):
            return min(self.new_account_quota, self.daily_quota)
        return self.daily_quota

    def hourly_rate(self, user: User) -> int:
        """Requests an hour (submissions, claims) from one address: half for new accounts."""
        return max(1, self.rate_per_hour // 2) if self.is_new(user) else self.rate_per_hour


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


_COLUMNS = (
    submissions.c.paper_id,
    submissions.c.submitted_at,
    submissions.c.user_id,
    users.c.display_name,
    users.c.handle,
)


def _joined():
    return submissions.outerjoin(users, users.c.id == submissions.c.user_id)


def _to_submission(row: dict) -> Submission:
    handle, user_id = None, row["user_id"]
    if user_id is not None:
        handle = row["handle"] or f"member-{user_id}"
    return Submission(
        handle=handle,
        name=public_name(row["display_name"], row["handle"], user_id),
        at=_utc(row["submitted_at"]),
    )


# Built once, so SQLAlchemy reuses its compiled form (every paper page asks it).
_FOR_IDS = ByIds(select(*_COLUMNS).select_from(_joined()), submissions.c.paper_id)


def submissions_for(conn: Connection, ids: Sequence[str]) -> dict[str, Submission]:
    """paper id -> its submission, for the papers of `ids` that members submitted."""
    found: dict[str, Submission] = {}
    ids = list(dict.fromkeys(ids))
    for start in range(0, len(ids), 500):  # bound the IN list on both dialects
        rows = _FOR_IDS.dicts(conn, ids[start : start + 500])
        found.update((row["paper_id"], _to_submission(row)) for row in rows)
    return found


def attach_submissions(conn: Connection, found: Sequence[Paper]) -> None:
    """Set `.submission` on each paper a member submitted (one query per 500 papers)."""
    if not found:
        return
    by_id = submissions_for(conn, [p.id for p in found])
    for paper in found:
        paper.submission = by_id.get(paper.id)


def submission_of(engine: Engine, paper_id: str) -> Submission | None:
    """Who submitted this paper, or None."""
    with engine.connect() as conn:
        return submissions_for(conn, [paper_id]).get(paper_id)


def check_submission(
    engine: Engine, user: User, paper_id: str, limits: Limits, now: datetime | None = None
) -> None:
    """Refuse (SubmissionError) before fetching anything: already submitted, or over quota."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        _check_not_submitted(conn, paper_id)
        _check_quota(conn, user, limits, now)


def _check_not_submitted(conn: Connection, paper_id: str) -> None:
    first = submissions_for(conn, [paper_id]).get(paper_id)
    if first is not None:
        raise SubmissionError(
            f"{paper_id} was already submitted by {first.name} on {first.at:%d %b %Y}"
        )


def _check_quota(conn: Connection, user: User, limits: Limits, now: datetime) -> None:
    quota = limits.quota_for(user, now)
    today = now.astimezone(UTC).date()
    done = conn.execute(
        select(func.count())
        .select_from(submissions)
        .where(submissions.c.user_id == user.id, submissions.c.day == today)
    ).scalar_one()
    if done >= quota:
        newer = quota < limits.daily_quota
        raise SubmissionError(
            f"you have submitted {done} paper{'s' if done != 1 else ''} today, the most "
            f"{'a new account' if newer else 'a member'} may submit a day is {quota}: "
            "try again tomorrow"
        )


def record_submission(
    engine: Engine, user: User, paper_id: str, limits: Limits, now: datetime | None = None
) -> Submission:
    """Record that `user` submitted the stored paper `paper_id` today, within the limits."""
    now = now or datetime.now(UTC)
    try:
        with engine.begin() as conn:
            published = conn.execute(
                select(papers.c.published).where(papers.c.id == paper_id)
            ).first()
            if published is None:
                raise SubmissionError(f"{paper_id}: no such paper is stored")
            _check_not_submitted(conn, paper_id)
            _check_age(paper_id, _utc(published[0]), limits, now)
            _check_quota(conn, user, limits, now)
            conn.execute(
                submissions.insert().values(
                    paper_id=paper_id,
                    user_id=user.id,
                    submitted_at=now,
                    day=now.astimezone(UTC).date(),
                )
            )
    except IntegrityError:  # someone else's submission of the same paper committed first
        with engine.connect() as conn:
            _check_not_submitted(conn, paper_id)
        raise
    return Submission(user.public_handle, user.public_name, now)


def _check_age(paper_id: str, published: datetime | None, limits: Limits, now: datetime) -> None:
    # A paper without a published date (no source gave one) is let through: its age is unknown.
    if published is not None and now - published > timedelta(days=limits.max_age_days):
        raise SubmissionError(
            f"{paper_id} was published on {published:%d %b %Y}, more than "
            f"{limits.max_age_days} days ago: only recent papers can be submitted"
        )


def submitted_on(start: date | None, end: date | None):
    """A subquery of the ids of papers submitted in [start, end] (for listings)."""
    query = select(submissions.c.paper_id)
    if start is not None:
        query = query.where(submissions.c.day >= start)
    if end is not None:
        query = query.where(submissions.c.day <= end)
    return query


_DEFAULT_HANDLE = re.compile(r"member-(\d{1,10})")


def submitted_by_handle(handle: str):
    """A subquery of the ids of papers submitted by the member with this public handle."""
    text = handle.strip().lower()
    match = _DEFAULT_HANDLE.fullmatch(text)
    who = users.c.handle == text
    if match:
        who = or_(who, (users.c.id == int(match.group(1))) & users.c.handle.is_(None))
    return select(submissions.c.paper_id).select_from(_joined()).where(who)


def submission_days():
    """A query of the days that have submissions of visible papers (daily page navigation)."""
    return (
        select(submissions.c.day.label("day"))
        .select_from(submissions.join(papers, papers.c.id == submissions.c.paper_id))
        .where(papers.c.hidden.is_(False))
    )


def submissions_by(engine: Engine, user_id: int) -> list[dict]:
    """A member's own submissions, newest first (their profile and account export)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(submissions.c.paper_id, submissions.c.submitted_at, submissions.c.day)
            .where(submissions.c.user_id == user_id)
            .order_by(submissions.c.submitted_at.desc(), submissions.c.paper_id)
        ).all()
    return [
        {"paper_id": r.paper_id, "submitted_at": _utc(r.submitted_at), "day": r.day} for r in rows
    ]
