"""Discussion threads: comments, their upvotes, reports, and member bans.

A comment's sanitised HTML is made by the caller (community/discussion.py) and stored with it,
so a thread is one query and no Markdown is rendered per view. `papers.num_comments` is
recounted in the transaction of every write that changes what is visible, with the paper's row
locked first, so racing posts cannot leave it wrong on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, String, and_, bindparam, func, literal, select

from paperroute.store.engine import dialect_insert
from paperroute.store.schema import (
    MENTION_HANDLE,
    comment_reports,
    comment_votes,
    comments,
    member_bans,
    papers,
    users,
)

DELETED_MEMBER = "deleted member"


class CommentError(ValueError):
    """A comment write that cannot be done; `field` names the form field at fault, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CommentForbidden(CommentError):
    """The member may not do this (not their comment, or banned)."""


class CommentNotFound(LookupError):
    """No such (visible) comment or paper."""


@dataclass
class Comment:
    """One comment as a thread shows it; `replies` is filled by `thread`."""

    id: int
    paper_id: str
    user_id: int | None
    author: str
    parent_id: int | None
    body: str
    html: str
    upvotes: int
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False
    hidden: bool = False
    voted: bool = False
    paper_title: str | None = None
    parent_author: int | None = None  # set by `insert_comment` only: who is told of a reply
    replies: list[Comment] = field(default_factory=list)

    @property
    def placeholder(self) -> bool:
        """Shown only as "[deleted]" or "[hidden]" (it has replies that stay readable)."""
        return self.deleted or self.hidden


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite returns naive datetimes
    return value


def author_name(display_name: str | None, email: str) -> str:
    """The name a member's comments show (never their whole email)."""
    return display_name or email.split("@", 1)[0]


def _author(row) -> str:
    if row.user_id is None:
        return DELETED_MEMBER
    return author_name(row.display_name, row.email)


def _from_row(row) -> Comment:
    gone = row.deleted_at is not None
    hidden = row.hidden_at is not None
    return Comment(
        id=row.id,
        paper_id=row.paper_id,
        user_id=row.user_id,
        author=_author(row),
        parent_id=row.parent_id,
        body="" if gone else row.body,
        html="" if gone else row.html,
        upvotes=row.upvotes,
        created_at=_utc(row.created_at),
        edited_at=_utc(row.edited_at),
        deleted=gone,
        hidden=hidden,
        voted=bool(row._mapping.get("voted", False)),
        paper_title=row._mapping.get("title"),
    )


_COLUMNS = (
    comments.c.id,
    comments.c.paper_id,
    comments.c.user_id,
    comments.c.parent_id,
    comments.c.body,
    comments.c.html,
    comments.c.upvotes,
    comments.c.created_at,
    comments.c.edited_at,
    comments.c.deleted_at,
    comments.c.hidden_at,
    users.c.display_name,
    users.c.email,
)
_VISIBLE = and_(comments.c.deleted_at.is_(None), comments.c.hidden_at.is_(None))

# The comment POST's statements, built once: a statement object keeps its cache key, so running
# one costs ~20 us of CPU where building the same select per call cost ~170 us (measured).
# Counts the new comment on the visible paper, which locks its row, and says whether the
# member is banned: the lock, the check and the count in one statement.
_COUNT_NEW_COMMENT = (
    papers.update()
    .where(papers.c.id == bindparam("commented"), papers.c.hidden.is_(False))
    .values(num_comments=papers.c.num_comments + 1)
    .returning(
        select(member_bans.c.user_id)
        .where(member_bans.c.user_id == bindparam("user_id"))
        .exists()
        .label("banned")
    )
)
_PARENT = select(comments.c.paper_id, comments.c.user_id).where(
    comments.c.id == bindparam("parent_id"), _VISIBLE
)
_INSERT_COMMENT = comments.insert().returning(comments.c.id)
_MENTIONED = (
    select(MENTION_HANDLE.label("handle"), users.c.id)
    .where(MENTION_HANDLE.in_(bindparam("handles", expanding=True, type_=String)))
    .order_by(users.c.id)
)


def _recount(conn: Connection, paper_ids: Iterable[str]) -> None:
    ids = sorted(set(paper_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        visible = (
            select(func.count())
            .select_from(comments)
            .where(comments.c.paper_id == papers.c.id, _VISIBLE)
            .scalar_subquery()
        )
        conn.execute(papers.update().where(papers.c.id.in_(chunk)).values(num_comments=visible))


def _get(conn: Connection, comment_id: int) -> Comment | None:
    row = conn.execute(
        select(*_COLUMNS)
        .select_from(comments.outerjoin(users, users.c.id == comments.c.user_id))
        .where(comments.c.id == comment_id)
    ).first()
    return _from_row(row) if row else None


def get_comment(engine: Engine, comment_id: int) -> Comment | None:
    """One comment (deleted or hidden ones too, flagged), or None."""
    with engine.connect() as conn:
        return _get(conn, comment_id)


def is_banned(engine: Engine, user_id: int) -> bool:
    """True when the member was banned from the discussion."""
    with engine.connect() as conn:
        return (
            conn.execute(
                select(member_bans.c.user_id).where(member_bans.c.user_id == user_id)
            ).first()
            is not None
        )


def add_comment(
    engine: Engine,
    paper_id: str,
    user_id: int,
    body: str,
    html: str,
    parent_id: int | None = None,
    now: datetime | None = None,
) -> Comment:
    """Store a new comment (a reply when `parent_id` is given) and count it on the paper."""
    with posting(engine) as conn:
        author = conn.execute(
            select(users.c.display_name, users.c.email, users.c.id.label("user_id")).where(
                users.c.id == user_id
            )
        ).one()
        lock_for_comment(conn, paper_id, user_id)
        return insert_comment(conn, paper_id, user_id, _author(author), body, html, parent_id, now)


@contextmanager
def posting(engine: Engine, turn: threading.Lock | None = None) -> Iterator[Connection]:
    """The transaction of a new comment (`engine.begin()`). On SQLite the process's posts take
    turns on `turn` first (the one lock of the process's `Discussion`): SQLite has one writer,
    and a post that finds it busy sleeps in SQLite's busy handler (1, 2, 5, 10 ms ...) while
    the holder waits for the GIL among the other posting threads; queued on a lock they wake
    as it is freed (bench/web.py's 32 posting clients: more posts a second for less CPU each,
    docs/benchmarks.md)."""
    if turn is None or engine.dialect.name != "sqlite":  # PostgreSQL: the paper's row lock
        with engine.begin() as conn:
            yield conn
        return
    with turn, engine.begin() as conn:
        yield conn


def lock_for_comment(conn: Connection, paper_id: str, user_id: int) -> None:
    """Count a new comment on the visible paper, which locks its row (PostgreSQL: racing posts
    on one paper queue here; the count is exact), and check the member is not banned, in one
    statement; CommentNotFound or CommentForbidden otherwise (the caller's transaction then
    rolls the count back, as it does when `insert_comment` refuses)."""
    found = conn.execute(_COUNT_NEW_COMMENT, {"commented": paper_id, "user_id": user_id}).first()
    if found is None:
        raise CommentNotFound(f"paper {paper_id}: not found")
    if found.banned:
        raise CommentForbidden("you are banned from the discussion on this site")


def insert_comment(
    conn: Connection,
    paper_id: str,
    user_id: int,
    author: str,
    body: str,
    html: str,
    parent_id: int | None = None,
    now: datetime | None = None,
) -> Comment:
    """Store a new comment in the caller's transaction, after `lock_for_comment` (which
    counted it): the parent checked (a reply), the row inserted. `author` is the name it shows;
    the returned comment's `parent_author` is the replied-to member (None: none, or a deleted
    member)."""
    now = now or datetime.now(UTC)
    parent_author = None
    if parent_id is not None:
        parent = conn.execute(_PARENT, {"parent_id": parent_id}).first()
        if parent is None or parent.paper_id != paper_id:
            raise CommentError(
                f"comment {parent_id}: no such comment to reply to on this paper", "parent_id"
            )
        parent_author = parent.user_id
    row = dict(paper_id=paper_id, user_id=user_id, parent_id=parent_id, body=body, html=html,
               upvotes=0, created_at=now)  # fmt: skip
    new_id = conn.execute(_INSERT_COMMENT, row).scalar_one()
    return Comment(
        id=new_id, paper_id=paper_id, user_id=user_id, author=author, parent_id=parent_id,
        body=body, html=html, upvotes=0, created_at=now, parent_author=parent_author,
    )  # fmt: skip


def _own_live(conn: Connection, comment_id: int, user_id: int | None) -> Comment:
    found = _get(conn, comment_id)
    if found is None or found.deleted:
        raise CommentNotFound(f"comment {comment_id}: not found")
    if user_id is not None and found.user_id != user_id:
        raise CommentForbidden(f"comment {comment_id}: only its author may change it")
    return found


def edit_comment(engine: Engine, comment_id: int, user_id: int, body: str, html: str) -> Comment:
    """Replace the text of one's own comment; the edit is marked with its time."""
    with engine.begin() as conn:
        _own_live(conn, comment_id, user_id)
        conn.execute(
            comments.update()
            .where(comments.c.id == comment_id)
            .values(body=body, html=html, edited_at=datetime.now(UTC))
        )
        return _get(conn, comment_id)  # type: ignore[return-value]


def delete_comment(engine: Engine, comment_id: int, user_id: int | None) -> Comment:
    """Blank a comment (its author's, or any when `user_id` is None: a moderator)."""
    with engine.begin() as conn:
        found = _own_live(conn, comment_id, user_id)
        _lock_paper_any(conn, found.paper_id)
        conn.execute(
            comments.update()
            .where(comments.c.id == comment_id)
            .values(body="", html="", deleted_at=datetime.now(UTC))
        )
        _recount(conn, [found.paper_id])
        return found


def _lock_paper_any(conn: Connection, paper_id: str) -> None:
    conn.execute(select(papers.c.id).where(papers.c.id == paper_id).with_for_update())


def thread(engine: Engine, paper_id: str, viewer_id: int | None = None) -> list[Comment]:
    """The paper's top-level comments, oldest first, each with its replies nested (one query).

    A deleted or hidden comment is left out, or kept as a placeholder when it has replies."""
    voted = literal(False).label("voted")
    source = comments.outerjoin(users, users.c.id == comments.c.user_id)
    if viewer_id is not None:
        source = source.outerjoin(
            comment_votes,
            and_(comment_votes.c.comment_id == comments.c.id, comment_votes.c.user_id == viewer_id),
        )
        voted = comment_votes.c.user_id.is_not(None).label("voted")
    query = (
        select(*_COLUMNS, voted)
        .select_from(source)
        .where(comments.c.paper_id == paper_id)
        .order_by(comments.c.id)
    )
    with engine.connect() as conn:
        rows = [_from_row(r) for r in conn.execute(query)]
    return _nest(rows)


def voted_in_thread(engine: Engine, paper_id: str, user_id: int) -> set[int]:
    """The ids of the paper's comments the member upvoted (a cached thread's per-reader part)."""
    query = (
        select(comment_votes.c.comment_id)
        .select_from(comment_votes.join(comments, comments.c.id == comment_votes.c.comment_id))
        .where(comment_votes.c.user_id == user_id, comments.c.paper_id == paper_id)
    )
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def _nest(rows: list[Comment]) -> list[Comment]:
    by_id = {c.id: c for c in rows}
    for c in rows:
        if c.hidden:  # only the moderation queue shows a hidden comment's text
            c.body = c.html = ""
    roots: list[Comment] = []
    for c in rows:  # ids grow with time, so a parent always comes before its replies
        parent = by_id.get(c.parent_id) if c.parent_id is not None else None
        (parent.replies if parent is not None else roots).append(c)
    return _prune(roots)


def _prune(items: list[Comment]) -> list[Comment]:
    kept = []
    for c in items:
        c.replies = _prune(c.replies)
        if not c.placeholder or c.replies:
            kept.append(c)
    return kept


def count_shown(items: list[Comment]) -> int:
    """Comments in a nested thread that show their text."""
    return sum((not c.placeholder) + count_shown(c.replies) for c in items)


def toggle_comment_vote(engine: Engine, user_id: int, comment_id: int) -> tuple[bool, int]:
    """Flip the member's upvote on a visible comment; (voted now, the comment's upvotes)."""
    with engine.begin() as conn:
        found = conn.execute(
            select(comments.c.id).where(comments.c.id == comment_id, _VISIBLE).with_for_update()
        ).first()
        if found is None:
            raise CommentNotFound(f"comment {comment_id}: not found")
        inserted = conn.execute(
            dialect_insert(conn, comment_votes)
            .on_conflict_do_nothing(index_elements=["user_id", "comment_id"])
            .returning(comment_votes.c.user_id),
            {"user_id": user_id, "comment_id": comment_id, "created_at": datetime.now(UTC)},
        ).first()
        if inserted is None:
            conn.execute(
                comment_votes.delete().where(
                    comment_votes.c.user_id == user_id, comment_votes.c.comment_id == comment_id
                )
            )
        delta = 1 if inserted is not None else -1
        conn.execute(
            comments.update()
            .where(comments.c.id == comment_id)
            .values(upvotes=comments.c.upvotes + delta)
        )
        count = conn.execute(
            select(comments.c.upvotes).where(comments.c.id == comment_id)
        ).scalar_one()
    return inserted is not None, count


def recent_comments(
    engine: Engine, limit: int = 50, offset: int = 0, paper_id: str | None = None
) -> list[Comment]:
    """Visible comments on visible papers, newest first (the discussion page and feeds)."""
    query = (
        select(*_COLUMNS, papers.c.title)
        .select_from(
            comments.join(papers, papers.c.id == comments.c.paper_id).outerjoin(
                users, users.c.id == comments.c.user_id
            )
        )
        .where(_VISIBLE, papers.c.hidden.is_(False))
        .order_by(comments.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if paper_id is not None:
        query = query.where(comments.c.paper_id == paper_id)
    with engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(query)]


def mentioned_members(engine: Engine, handles: Iterable[str]) -> dict[str, int]:
    """handle -> member id for `@handle` mentions.

    A member's handle is their display name with spaces removed, compared case-insensitively
    ("Ada Lovelace" is @AdaLovelace); members without a display name cannot be mentioned (their
    email must never show). Two members with one handle: the earlier account has it."""
    with engine.connect() as conn:
        return mentioned_members_in(conn, handles)


def mentioned_members_in(conn: Connection, handles: Iterable[str]) -> dict[str, int]:
    """`mentioned_members` in the caller's transaction."""
    wanted = sorted({h.lower() for h in handles})
    if not wanted:
        return {}
    found: dict[str, int] = {}
    for h, uid in conn.execute(_MENTIONED, {"handles": wanted}):
        found.setdefault(h, uid)
    return found


def report_comment(engine: Engine, comment_id: int, user_id: int, reason: str) -> bool:
    """Record a member's report of a visible comment; False when they had reported it already."""
    with engine.begin() as conn:
        found = conn.execute(select(comments.c.id).where(comments.c.id == comment_id, _VISIBLE))
        if found.first() is None:
            raise CommentNotFound(f"comment {comment_id}: not found")
        row = conn.execute(
            dialect_insert(conn, comment_reports)
            .on_conflict_do_nothing(index_elements=["comment_id", "user_id"])
            .returning(comment_reports.c.id),
            {
                "comment_id": comment_id,
                "user_id": user_id,
                "reason": reason,
                "created_at": datetime.now(UTC),
            },
        ).first()
    return row is not None


@dataclass
class ReportedComment:
    """A comment in the moderation queue, with its open reports."""

    comment: Comment
    reasons: list[str]
    reports: int


def moderation_queue(engine: Engine, limit: int = 100) -> list[ReportedComment]:
    """Comments with open reports, most reported first."""
    query = (
        select(comment_reports.c.comment_id, comment_reports.c.reason)
        .where(comment_reports.c.resolved_at.is_(None))
        .order_by(comment_reports.c.id)
    )
    with engine.connect() as conn:
        reasons: dict[int, list[str]] = {}
        for cid, reason in conn.execute(query):
            reasons.setdefault(cid, []).append(reason)
        ranked = sorted(reasons, key=lambda c: (-len(reasons[c]), c))[:limit]
        out = []
        for cid in ranked:
            found = _get(conn, cid)
            if found is not None:
                out.append(ReportedComment(found, reasons[cid], len(reasons[cid])))
    return out


def _resolve(conn: Connection, comment_ids: list[int], resolution: str) -> None:
    conn.execute(
        comment_reports.update()
        .where(
            comment_reports.c.comment_id.in_(comment_ids), comment_reports.c.resolved_at.is_(None)
        )
        .values(resolved_at=datetime.now(UTC), resolution=resolution)
    )


def moderate_comment(engine: Engine, comment_id: int, action: str) -> Comment:
    """A moderator's `hide`, `unhide`, `delete` or `dismiss` (keep it, close its reports)."""
    if action not in ("hide", "unhide", "delete", "dismiss"):
        raise CommentError(f"moderation: unknown action {action!r}", "action")
    if action == "delete":
        found = delete_comment(engine, comment_id, None)
        with engine.begin() as conn:
            _resolve(conn, [comment_id], "deleted")
        return found
    with engine.begin() as conn:
        found = _get(conn, comment_id)
        if found is None:
            raise CommentNotFound(f"comment {comment_id}: not found")
        if action != "dismiss":
            _lock_paper_any(conn, found.paper_id)
            value = datetime.now(UTC) if action == "hide" else None
            conn.execute(
                comments.update().where(comments.c.id == comment_id).values(hidden_at=value)
            )
            _recount(conn, [found.paper_id])
        _resolve(conn, [comment_id], "hidden" if action == "hide" else "dismissed")
        return found


def ban_member(engine: Engine, user_id: int, banned_by: int, reason: str = "") -> int:
    """Ban a member from the discussion and hide every comment of theirs; returns how many."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
            raise CommentNotFound(f"user {user_id}: not found")
        conn.execute(
            dialect_insert(conn, member_bans).on_conflict_do_nothing(index_elements=["user_id"]),
            {"user_id": user_id, "banned_by": banned_by, "reason": reason, "created_at": now},
        )
        rows = conn.execute(
            select(comments.c.id, comments.c.paper_id).where(
                comments.c.user_id == user_id, comments.c.hidden_at.is_(None)
            )
        ).all()
        for paper_id in sorted({p for _, p in rows}):
            _lock_paper_any(conn, paper_id)
        conn.execute(
            comments.update()
            .where(comments.c.user_id == user_id, comments.c.hidden_at.is_(None))
            .values(hidden_at=now)
        )
        _recount(conn, [p for _, p in rows])
        ids = list(
            conn.execute(select(comments.c.id).where(comments.c.user_id == user_id)).scalars()
        )
        for start in range(0, len(ids), 500):
            _resolve(conn, ids[start : start + 500], "banned")
    return len(rows)


def export_member_discussion(conn: Connection, user_id: int) -> dict:
    """A member's own comments and reports, for the account export."""
    own = conn.execute(
        select(
            comments.c.id, comments.c.paper_id, comments.c.parent_id, comments.c.body,
            comments.c.created_at, comments.c.edited_at, comments.c.deleted_at,
            comments.c.hidden_at,
        )
        .where(comments.c.user_id == user_id)
        .order_by(comments.c.id)
    ).all()  # fmt: skip
    reports = conn.execute(
        select(
            comment_reports.c.comment_id, comment_reports.c.reason, comment_reports.c.created_at,
            comment_reports.c.resolution,
        )
        .where(comment_reports.c.user_id == user_id)
        .order_by(comment_reports.c.id)
    ).all()  # fmt: skip

    def iso(value):
        return _utc(value).isoformat() if value else None

    return {
        "comments": [
            {
                "id": r.id, "paper_id": r.paper_id, "parent_id": r.parent_id, "body": r.body,
                "created_at": iso(r.created_at), "edited_at": iso(r.edited_at),
                "deleted": r.deleted_at is not None, "hidden": r.hidden_at is not None,
            }
            for r in own
        ],
        "comment_reports": [
            {"comment_id": r.comment_id, "reason": r.reason, "at": iso(r.created_at),
             "resolution": r.resolution}
            for r in reports
        ],
    }  # fmt: skip
