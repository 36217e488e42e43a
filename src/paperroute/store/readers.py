"""A reader's library as the recommender sees it: saved and upvoted papers per collection, "not
interested" marks, cold-start picks, and the paper texts and authors the recommender reads.

Positives are the papers in the reader's collections (tags) and the papers they upvoted; negatives
are the papers they marked "not interested".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from paperroute.store import votes as vote_store
from paperroute.store.engine import dialect_insert
from paperroute.store.papers import author_key
from paperroute.store.schema import (
    collection_items,
    collections,
    not_interested,
    paper_authors,
    paper_categories,
    papers,
    subscriptions,
    users,
    votes,
)

_CHUNK = 500


@dataclass
class ReaderLibrary:
    """What the recommender learns from: saved/upvoted papers per tag, and rejected papers."""

    positives: list[str] = field(default_factory=list)  # newest first, each id once
    negatives: list[str] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)  # collection slug -> paper ids
    tag_names: dict[str, str] = field(default_factory=dict)  # slug -> display name
    onboarding: dict[str, Any] = field(default_factory=dict)  # cold-start picks
    followed_authors: list[str] = field(default_factory=list)  # author keys (digest prefs)

    def positives_for(self, tag: str | None) -> list[str]:
        """Positives of one tag (collection slug), or all of them."""
        if not tag:
            return self.positives
        return list(self.tags.get(tag, []))


def as_utc(value: datetime | None) -> datetime:
    """The moment in UTC (naive database values are UTC); None sorts first."""
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_reader_library(engine: Engine, user_id: int) -> ReaderLibrary:
    """The reader's positives (collections and upvotes), negatives and cold-start picks."""
    return load_reader_libraries(engine, [user_id])[user_id]


def load_reader_libraries(engine: Engine, user_ids: Sequence[int]) -> dict[int, ReaderLibrary]:
    """`load_reader_library` for many readers in a few queries (a digest run's readers)."""
    ids = list(dict.fromkeys(u for u in user_ids if u is not None))
    libs = {uid: ReaderLibrary() for uid in ids}
    when: dict[int, dict[str, datetime]] = {uid: {} for uid in ids}
    followed: dict[int, set[str]] = defaultdict(set)
    with engine.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            items = conn.execute(
                select(
                    collections.c.user_id,
                    collections.c.slug,
                    collections.c.name,
                    collection_items.c.paper_id,
                    collection_items.c.added_at,
                )
                .join(collection_items, collection_items.c.collection_id == collections.c.id)
                .where(collections.c.user_id.in_(chunk))
                .order_by(collection_items.c.added_at.desc(), collection_items.c.paper_id)
            ).all()
            for uid, slug, name, pid, added in items:
                lib = libs[uid]
                lib.tags.setdefault(slug, []).append(pid)
                lib.tag_names[slug] = name
                when[uid][pid] = max(when[uid].get(pid, as_utc(None)), as_utc(added))
            for uid, pid, created in conn.execute(
                select(votes.c.user_id, votes.c.paper_id, votes.c.created_at).where(
                    votes.c.user_id.in_(chunk)
                )
            ):
                when[uid][pid] = max(when[uid].get(pid, as_utc(None)), as_utc(created))
            for uid, pid in conn.execute(
                select(not_interested.c.user_id, not_interested.c.paper_id)
                .where(not_interested.c.user_id.in_(chunk))
                .order_by(not_interested.c.created_at.desc(), not_interested.c.paper_id)
            ):
                libs[uid].negatives.append(pid)
            for uid, onboarding in conn.execute(
                select(users.c.id, users.c.onboarding).where(users.c.id.in_(chunk))
            ):
                libs[uid].onboarding = dict(onboarding or {})
            # "Authors you follow" are the digest subscription's follow_authors: one list for both.
            for uid, names in conn.execute(
                select(subscriptions.c.user_id, subscriptions.c.follow_authors).where(
                    subscriptions.c.user_id.in_(chunk)
                )
            ):
                followed[uid].update(author_key(n) for n in names or [])
    for uid, lib in libs.items():
        lib.positives = [
            p for p, _ in sorted(when[uid].items(), key=lambda kv: kv[1], reverse=True)
        ]
        lib.followed_authors = sorted(followed[uid])
    return libs


def mark_not_interested(engine: Engine, user_id: int, paper_id: str) -> bool:
    """Record "not interested" in a paper; False when it was already marked."""
    with engine.begin() as conn:
        if conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is None:
            raise vote_store.UnknownPaper(paper_id)
        # RETURNING, not rowcount: psycopg reports -1 for INSERT .. ON CONFLICT DO NOTHING.
        stmt = (
            dialect_insert(conn, not_interested)
            .values(user_id=user_id, paper_id=paper_id, created_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["user_id", "paper_id"])
            .returning(not_interested.c.paper_id)
        )
        return conn.execute(stmt).first() is not None


def unmark_not_interested(engine: Engine, user_id: int, paper_id: str) -> bool:
    """Take back "not interested"; False when it was not marked."""
    with engine.begin() as conn:
        stmt = not_interested.delete().where(
            not_interested.c.user_id == user_id, not_interested.c.paper_id == paper_id
        )
        return conn.execute(stmt).rowcount == 1


def not_interested_by_user(engine: Engine, user_ids: Sequence[int]) -> dict[int, list[str]]:
    """Papers each of these users marked "not interested", newest mark first (one batched read
    for a whole digest run)."""
    found: dict[int, list[str]] = defaultdict(list)
    ids = sorted({u for u in user_ids if u is not None})
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            query = (
                select(not_interested.c.user_id, not_interested.c.paper_id)
                .where(not_interested.c.user_id.in_(ids[start : start + 500]))
                .order_by(not_interested.c.created_at.desc())
            )
            for uid, pid in conn.execute(query):
                found[uid].append(pid)
    return dict(found)


def set_onboarding(engine: Engine, user_id: int, picks: dict[str, Any]) -> None:
    """Save cold-start picks: {"categories": [...], "topics": [...], "arxiv_ids": [...]}."""
    clean = {
        key: [str(v).strip() for v in picks.get(key, []) if str(v).strip()][:50]
        for key in ("categories", "topics", "arxiv_ids")
    }
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == user_id).values(onboarding=clean))


def recent_paper_ids(engine: Engine, days: int, today: date | None = None) -> list[str]:
    """Ids of visible papers announced in the last `days` days (up to and including today)."""
    since = (today or datetime.now(UTC).date()) - timedelta(days=days - 1)
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(papers.c.announced))).scalar()
        # A store that stopped syncing still recommends: the window ends at its newest day.
        if newest is not None and today is None and newest < since:
            since = newest - timedelta(days=days - 1)
        query = select(papers.c.id).where(papers.c.announced >= since, papers.c.hidden.is_(False))
        return list(conn.execute(query.order_by(papers.c.id)).scalars().all())


def papers_in_categories(engine: Engine, ids: Sequence[str], categories: Sequence[str]) -> set[str]:
    """Which of `ids` are listed in any of the categories."""
    found: set[str] = set()
    if not categories:
        return found
    with engine.connect() as conn:
        for s in range(0, len(ids), _CHUNK):
            found.update(
                conn.execute(
                    select(paper_categories.c.paper_id).where(
                        paper_categories.c.paper_id.in_(list(ids[s : s + _CHUNK])),
                        paper_categories.c.category.in_(list(categories)),
                    )
                ).scalars()
            )
    return found


def paper_texts(engine: Engine, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(title, abstract) of each known paper id."""
    out: dict[str, tuple[str, str]] = {}
    with engine.connect() as conn:
        for s in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                select(papers.c.id, papers.c.title, papers.c.abstract).where(
                    papers.c.id.in_(list(ids[s : s + _CHUNK]))
                )
            )
            out.update({pid: (title, abstract) for pid, title, abstract in rows})
    return out


def paper_author_keys(engine: Engine, ids: Sequence[str]) -> dict[str, list[str]]:
    """Lower-cased author names (`paper_authors.name_key`) of each paper, in paper order."""
    out: dict[str, list[str]] = {pid: [] for pid in ids}
    with engine.connect() as conn:
        for s in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                select(paper_authors.c.paper_id, paper_authors.c.name_key)
                .where(paper_authors.c.paper_id.in_(list(ids[s : s + _CHUNK])))
                .order_by(paper_authors.c.paper_id, paper_authors.c.position)
            )
            for pid, key in rows:
                out[pid].append(key)
    return out
