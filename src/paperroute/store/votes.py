"""Upvotes: one per user per paper; `papers.upvotes` changes in the vote row's transaction,
with a guarded insert/delete, so counts stay exact when clicks race."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, func, select

from paperroute.store.engine import dialect_insert
from paperroute.store.schema import papers, votes


class UnknownPaper(LookupError):
    """No paper with this id."""


def _insert_vote(conn: Connection, user_id: int, paper_id: str) -> bool:
    stmt = (
        dialect_insert(conn, votes)
        .on_conflict_do_nothing(index_elements=["user_id", "paper_id"])
        .returning(votes.c.user_id)
    )
    row = {"user_id": user_id, "paper_id": paper_id, "created_at": datetime.now(UTC)}
    # RETURNING, not rowcount: psycopg reports -1 for INSERT .. ON CONFLICT DO NOTHING.
    return conn.execute(stmt, row).first() is not None


def _delete_vote(conn: Connection, user_id: int, paper_id: str) -> bool:
    stmt = (
        votes.delete()
        .where(votes.c.user_id == user_id, votes.c.paper_id == paper_id)
        .returning(votes.c.user_id)
    )
    return conn.execute(stmt).first() is not None


def _bump(conn: Connection, paper_id: str, delta: int) -> None:
    conn.execute(
        papers.update().where(papers.c.id == paper_id).values(upvotes=papers.c.upvotes + delta)
    )


def _counts(conn: Connection, paper_id: str, lock: bool = False) -> tuple[int, int]:
    query = select(papers.c.upvotes, papers.c.hf_upvotes).where(papers.c.id == paper_id)
    if lock:
        # Serialises clicks on one paper on PostgreSQL: without it two racing toggles by the same
        # user can both find the row gone and both do nothing (SQLite serialises writers anyway).
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise UnknownPaper(paper_id)
    return row.upvotes, row.hf_upvotes


def set_vote(engine: Engine, user_id: int, paper_id: str, on: bool) -> tuple[bool, int, int]:
    """Make the user's vote on/off; returns (voted, local upvotes, HF upvotes)."""
    with engine.begin() as conn:
        _counts(conn, paper_id, lock=True)
        if on and _insert_vote(conn, user_id, paper_id):
            _bump(conn, paper_id, +1)
        elif not on and _delete_vote(conn, user_id, paper_id):
            _bump(conn, paper_id, -1)
        local, hf = _counts(conn, paper_id)
    return on, local, hf


def toggle_vote(engine: Engine, user_id: int, paper_id: str) -> tuple[bool, int, int]:
    """Flip the user's vote; returns (voted now, local upvotes, HF upvotes)."""
    with engine.begin() as conn:
        _counts(conn, paper_id, lock=True)
        if _insert_vote(conn, user_id, paper_id):
            _bump(conn, paper_id, +1)
            voted = True
        else:
            voted = False
            if _delete_vote(conn, user_id, paper_id):
                _bump(conn, paper_id, -1)
        local, hf = _counts(conn, paper_id)
    return voted, local, hf


def vote_counts(engine: Engine, paper_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(local upvotes, HF upvotes) of each of these papers that exists (one query per 500)."""
    ids = list(dict.fromkeys(paper_ids))
    found: dict[str, tuple[int, int]] = {}
    with engine.connect() as conn:
        for i in range(0, len(ids), 500):
            rows = conn.execute(_COUNTS, {"ids": ids[i : i + 500]})
            found.update((row.id, (row.upvotes, row.hf_upvotes)) for row in rows)
    return found


# Built once, so SQLAlchemy reuses its compiled form (every page with vote numbers asks it).
_COUNTS = select(papers.c.id, papers.c.upvotes, papers.c.hf_upvotes).where(
    papers.c.id.in_(bindparam("ids", expanding=True))
)


def voted_ids(engine: Engine, user_id: int, paper_ids: Sequence[str]) -> set[str]:
    """Which of these papers the user has upvoted (one query)."""
    if not paper_ids:
        return set()
    with engine.connect() as conn:
        rows = conn.execute(
            select(votes.c.paper_id).where(
                votes.c.user_id == user_id, votes.c.paper_id.in_(list(paper_ids))
            )
        )
        return set(rows.scalars())


def user_voted_ids(engine: Engine, user_id: int) -> frozenset[str]:
    """Every paper the user has upvoted (what a shared page needs to show their votes)."""
    with engine.connect() as conn:
        return frozenset(
            conn.execute(select(votes.c.paper_id).where(votes.c.user_id == user_id)).scalars()
        )


def count_votes(engine: Engine, paper_id: str) -> int:
    """Number of vote rows for a paper (the truth papers.upvotes mirrors)."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(votes).where(votes.c.paper_id == paper_id)
        ).scalar_one()
