"""Collections: a user's named lists of saved papers, private or public; saved searches.

Saving a paper into any collection changes `papers.saves` in the same transaction (guarded insert
and delete), so the count trending uses stays exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, select

from paperroute.store.engine import dialect_insert
from paperroute.store.schema import collection_items, collections, papers, saved_searches

_CHUNK = 500  # rows per INSERT: well inside SQLite's and PostgreSQL's parameter limits


@dataclass
class Collection:
    """A named list of papers owned by one user."""

    id: int
    user_id: int
    name: str
    slug: str
    is_public: bool
    description: str | None
    created_at: datetime
    size: int = 0


class CollectionError(ValueError):
    """A collection request that cannot be done (message says why)."""


def slugify(name: str) -> str:
    """URL-friendly form of a collection name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80] or "collection"


def _to_collection(row, size: int = 0) -> Collection:
    return Collection(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        slug=row.slug,
        is_public=bool(row.is_public),
        description=row.description,
        created_at=row.created_at,
        size=size,
    )


def create_collection(
    engine: Engine, user_id: int, name: str, *, is_public: bool = False, description: str = ""
) -> Collection:
    """A new collection; the name must be non-empty and unique for the user."""
    clean = _clean_name(name)
    with engine.begin() as conn:
        if _find(conn, user_id, clean) is not None:
            raise CollectionError(f"collection name: you already have a collection {clean!r}")
        new_id = _insert(conn, user_id, clean, is_public, description)
        row = conn.execute(select(collections).where(collections.c.id == new_id)).one()
    return _to_collection(row)


def save_into_collection(
    engine: Engine, user_id: int, name: str, paper_ids: Sequence[str]
) -> tuple[int, int]:
    """Put papers into the user's collection `name` (created if needed); returns (id, added).

    Creating and filling share one transaction, so a process killed half-way leaves either
    the whole import or nothing, never an empty new collection.
    """
    with engine.begin() as conn:
        cid = _find(conn, user_id, _clean_name(name))
        if cid is None:
            cid = _insert(conn, user_id, name, False, "")
        return cid, _add_items(conn, cid, list(dict.fromkeys(paper_ids)))


def _clean_name(name: str) -> str:
    clean = (name or "").strip()[:255]
    if not clean:
        raise CollectionError("collection name: must not be empty")
    return clean


def _find(conn: Connection, user_id: int, name: str) -> int | None:
    return conn.execute(
        select(collections.c.id).where(
            collections.c.user_id == user_id, collections.c.slug == slugify(name)
        )
    ).scalar()


def _insert(conn: Connection, user_id: int, name: str, is_public: bool, description: str) -> int:
    clean = _clean_name(name)
    return conn.execute(
        collections.insert().returning(collections.c.id),
        {
            "user_id": user_id,
            "name": clean,
            "slug": slugify(clean),
            "is_public": is_public,
            "description": (description or "").strip() or None,
            "created_at": datetime.now(UTC),
        },
    ).scalar_one()


def _add_items(conn: Connection, collection_id: int, paper_ids: list[str]) -> int:
    """Bulk form of `add_paper` for imports: guarded inserts, `saves + 1` for exactly those.

    RETURNING the rows really added keeps the count exact; a 3,000-entry library costs a few
    statements, not 3,000 transactions.
    """
    added = 0
    now = datetime.now(UTC)
    for s in range(0, len(paper_ids), _CHUNK):
        rows = [
            {"collection_id": collection_id, "paper_id": p, "added_at": now}
            for p in paper_ids[s : s + _CHUNK]
        ]
        stmt = (
            dialect_insert(conn, collection_items)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["collection_id", "paper_id"])
            .returning(collection_items.c.paper_id)
        )
        new = list(conn.execute(stmt).scalars())
        if new:
            conn.execute(
                papers.update().where(papers.c.id.in_(new)).values(saves=papers.c.saves + 1)
            )
        added += len(new)
    return added


def get_collection(engine: Engine, collection_id: int) -> Collection | None:
    """A collection with its size, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(collections).where(collections.c.id == collection_id)).first()
        if row is None:
            return None
        size = conn.execute(
            select(func.count())
            .select_from(collection_items)
            .where(collection_items.c.collection_id == collection_id)
        ).scalar_one()
    return _to_collection(row, size)


def list_collections(
    engine: Engine, user_id: int | None = None, public_only: bool = False
) -> list[Collection]:
    """Collections (of one user, or public ones), with sizes, in one query."""
    size = (
        select(func.count())
        .select_from(collection_items)
        .where(collection_items.c.collection_id == collections.c.id)
        .scalar_subquery()
    )
    query = select(collections, size.label("size")).order_by(collections.c.name)
    if user_id is not None:
        query = query.where(collections.c.user_id == user_id)
    if public_only:
        query = query.where(collections.c.is_public.is_(True))
    with engine.connect() as conn:
        return [_to_collection(r, r.size) for r in conn.execute(query)]


def collection_paper_ids(engine: Engine, collection_id: int) -> list[str]:
    """Paper ids in a collection, most recently added first."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(collection_items.c.paper_id)
                .where(collection_items.c.collection_id == collection_id)
                .order_by(collection_items.c.added_at.desc(), collection_items.c.paper_id)
            ).scalars()
        )


def _owned(conn: Connection, user_id: int, collection_id: int) -> None:
    owner = conn.execute(
        select(collections.c.user_id).where(collections.c.id == collection_id)
    ).scalar()
    if owner != user_id:
        raise CollectionError(f"collection {collection_id}: not found")


def add_paper(engine: Engine, user_id: int, collection_id: int, paper_id: str) -> bool:
    """Save a paper into the user's collection; False when it was already there."""
    with engine.begin() as conn:
        _owned(conn, user_id, collection_id)
        if conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is None:
            raise CollectionError(f"paper {paper_id}: not found")
        stmt = (
            dialect_insert(conn, collection_items)
            .on_conflict_do_nothing(index_elements=["collection_id", "paper_id"])
            .returning(collection_items.c.paper_id)
        )
        row = {"collection_id": collection_id, "paper_id": paper_id, "added_at": datetime.now(UTC)}
        # RETURNING, not rowcount: psycopg reports -1 for INSERT .. ON CONFLICT DO NOTHING.
        added = conn.execute(stmt, row).first() is not None
        if added:
            conn.execute(
                papers.update().where(papers.c.id == paper_id).values(saves=papers.c.saves + 1)
            )
    return added


def remove_paper(engine: Engine, user_id: int, collection_id: int, paper_id: str) -> bool:
    """Take a paper out of the user's collection; False when it was not there."""
    with engine.begin() as conn:
        _owned(conn, user_id, collection_id)
        stmt = (
            collection_items.delete()
            .where(
                collection_items.c.collection_id == collection_id,
                collection_items.c.paper_id == paper_id,
            )
            .returning(collection_items.c.paper_id)
        )
        removed = conn.execute(stmt).first() is not None
        if removed:
            conn.execute(
                papers.update().where(papers.c.id == paper_id).values(saves=papers.c.saves - 1)
            )
    return removed


def update_collection(engine: Engine, user_id: int, collection_id: int, *, is_public: bool) -> None:
    """Make a collection public or private."""
    with engine.begin() as conn:
        _owned(conn, user_id, collection_id)
        conn.execute(
            collections.update()
            .where(collections.c.id == collection_id)
            .values(is_public=is_public)
        )


def delete_collection(engine: Engine, user_id: int, collection_id: int) -> None:
    """Delete a collection, giving back the saves it held."""
    with engine.begin() as conn:
        _owned(conn, user_id, collection_id)
        held = list(
            conn.execute(
                select(collection_items.c.paper_id).where(
                    collection_items.c.collection_id == collection_id
                )
            ).scalars()
        )
        if held:
            conn.execute(
                papers.update().where(papers.c.id.in_(held)).values(saves=papers.c.saves - 1)
            )
        conn.execute(
            collection_items.delete().where(collection_items.c.collection_id == collection_id)
        )
        conn.execute(collections.delete().where(collections.c.id == collection_id))


def save_search(engine: Engine, user_id: int, name: str, query: str) -> int:
    """Remember a search (its query string) for a user; returns its id."""
    clean_query = (query or "").strip()
    if not clean_query:
        raise CollectionError("saved search: the query must not be empty")
    with engine.begin() as conn:
        return conn.execute(
            saved_searches.insert().returning(saved_searches.c.id),
            {
                "user_id": user_id,
                "name": (name or clean_query).strip()[:255],
                "query": clean_query,
                "created_at": datetime.now(UTC),
            },
        ).scalar_one()


def list_saved_searches(engine: Engine, user_id: int) -> list[dict]:
    """A user's saved searches, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(saved_searches)
            .where(saved_searches.c.user_id == user_id)
            .order_by(saved_searches.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def get_saved_search(engine: Engine, search_id: int) -> dict | None:
    """One saved search, or None."""
    with engine.connect() as conn:
        row = (
            conn.execute(select(saved_searches).where(saved_searches.c.id == search_id))
            .mappings()
            .first()
        )
    return dict(row) if row else None


def delete_saved_search(engine: Engine, user_id: int, search_id: int) -> None:
    """Forget one of the user's saved searches."""
    with engine.begin() as conn:
        conn.execute(
            saved_searches.delete().where(
                saved_searches.c.id == search_id, saved_searches.c.user_id == user_id
            )
        )


def collection_choices(engine: Engine, user_id: int, paper_id: str) -> list[tuple[int, str, bool]]:
    """The user's collections as (id, name, holds this paper), by name, in one query."""
    holds = (
        select(collection_items.c.paper_id)
        .where(
            collection_items.c.collection_id == collections.c.id,
            collection_items.c.paper_id == paper_id,
        )
        .exists()
    )
    query = (
        select(collections.c.id, collections.c.name, holds.label("holds"))
        .where(collections.c.user_id == user_id)
        .order_by(collections.c.name)
    )
    with engine.connect() as conn:
        return [(r.id, r.name, bool(r.holds)) for r in conn.execute(query)]


def collection_memberships(engine: Engine, user_id: int) -> list[tuple[int, str, frozenset[str]]]:
    """The user's collections as (id, name, ids of the papers in it), by name, in one query."""
    query = (
        select(collections.c.id, collections.c.name, collection_items.c.paper_id)
        .select_from(
            collections.outerjoin(
                collection_items, collection_items.c.collection_id == collections.c.id
            )
        )
        .where(collections.c.user_id == user_id)
        .order_by(collections.c.name, collections.c.id)
    )
    found: dict[int, tuple[str, set[str]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            _, items = found.setdefault(row.id, (row.name, set()))
            if row.paper_id is not None:
                items.add(row.paper_id)
    return [(cid, name, frozenset(items)) for cid, (name, items) in found.items()]
