"""The embeddings table: which papers need (re-)embedding, saving vectors, reading them back.

A vector is keyed by (paper, model) and remembers the paper's content_hash it was computed from,
so a changed title/abstract or another model means "pending" again. Vectors are stored as
float32 little-endian bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, and_, func, or_, select

from paperroute.store.engine import dialect_insert
from paperroute.store.schema import embeddings, papers

_CHUNK = 500


def to_blob(vector: np.ndarray) -> bytes:
    """float32 little-endian bytes of a vector."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """The vector stored in a blob."""
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def _pending_condition(model: str):
    return or_(embeddings.c.paper_id.is_(None), embeddings.c.content_hash != papers.c.content_hash)


def _pending_from(model: str):
    return papers.outerjoin(
        embeddings, and_(embeddings.c.paper_id == papers.c.id, embeddings.c.model == model)
    )


def count_pending(engine: Engine, model: str) -> int:
    """Papers without a current vector for this model."""
    query = select(func.count()).select_from(_pending_from(model)).where(_pending_condition(model))
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def iter_pending(
    engine: Engine, model: str, batch: int, ids: Sequence[str] | None = None
) -> Iterator[list[dict]]:
    """Batches of {id, title, abstract, content_hash} needing a vector, in id order (only among
    `ids` when given)."""
    last = ""
    cols = (papers.c.id, papers.c.title, papers.c.abstract, papers.c.content_hash)
    while True:
        query = (
            select(*cols)
            .select_from(_pending_from(model))
            .where(_pending_condition(model), papers.c.id > last)
            .order_by(papers.c.id)
            .limit(batch)
        )
        if ids is not None:
            query = query.where(papers.c.id.in_(list(ids)))
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def save_vectors(
    engine: Engine, model: str, ids: Sequence[str], hashes: Sequence[str], vectors: np.ndarray
) -> None:
    """Insert or replace vectors for papers, in one transaction."""
    now = datetime.now(UTC)
    rows = [
        {
            "paper_id": pid,
            "model": model,
            "content_hash": h,
            "dim": int(v.shape[0]),
            "vector": to_blob(v),
            "created_at": now,
        }
        for pid, h, v in zip(ids, hashes, vectors, strict=True)
    ]
    if not rows:
        return
    with engine.begin() as conn:
        stmt = dialect_insert(conn, embeddings)
        stmt = stmt.on_conflict_do_update(
            index_elements=[embeddings.c.paper_id, embeddings.c.model],
            set_={k: stmt.excluded[k] for k in ("content_hash", "dim", "vector", "created_at")},
        )
        conn.execute(stmt, rows)


def load_vectors(engine: Engine, model: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Stored vectors of these papers for this model (papers without one are left out)."""
    out: dict[str, np.ndarray] = {}
    ids = list(dict.fromkeys(ids))
    with engine.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = select(embeddings.c.paper_id, embeddings.c.vector).where(
                embeddings.c.model == model, embeddings.c.paper_id.in_(chunk)
            )
            for pid, blob in conn.execute(query):
                out[pid] = from_blob(blob)
    return out


def vector_dim(engine: Engine, model: str) -> int | None:
    """The dimension of this model's stored vectors (None when none are stored)."""
    query = select(embeddings.c.dim).where(embeddings.c.model == model).limit(1)
    with engine.connect() as conn:
        dim = conn.execute(query).scalar()
    return int(dim) if dim else None


def count_vectors(engine: Engine, model: str) -> int:
    """Vectors stored for this model."""
    query = select(func.count()).select_from(embeddings).where(embeddings.c.model == model)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def iter_vectors(
    engine: Engine, model: str, batch: int = 5000, since: datetime | None = None
) -> Iterator[tuple[list[str], np.ndarray, datetime | None]]:
    """All vectors of a model (or those saved after `since`) in id-ordered batches."""
    last = ""
    while True:
        query = select(embeddings.c.paper_id, embeddings.c.vector, embeddings.c.created_at).where(
            embeddings.c.model == model, embeddings.c.paper_id > last
        )
        if since is not None:  # SQLite stores naive UTC text; compare with a naive value there
            naive = engine.dialect.name == "sqlite" and since.tzinfo is not None
            query = query.where(
                embeddings.c.created_at >= (since.replace(tzinfo=None) if naive else since)
            )
        query = query.order_by(embeddings.c.paper_id).limit(batch)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        newest = max((r[2] for r in rows if r[2] is not None), default=None)
        yield [r[0] for r in rows], np.stack([from_blob(r[1]) for r in rows]), newest
        last = rows[-1][0]


def load_precomputed(engine: Engine, path: str | Path) -> int:
    """Fill the embeddings table from a .npz of precomputed vectors; returns vectors stored.

    Only vectors whose content hash still matches the paper in the store are kept, so a paper
    that changed since the file was made is embedded again by `embed_pending`.
    """
    data = np.load(path, allow_pickle=False)
    model = str(data["model"])
    ids = [str(i) for i in data["ids"]]
    hashes = [str(h) for h in data["content_hashes"]]
    vectors = data["vectors"].astype(np.float32)
    current: dict[str, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = select(papers.c.id, papers.c.content_hash).where(papers.c.id.in_(chunk))
            current.update(dict(conn.execute(query).all()))
    keep = [i for i, (pid, h) in enumerate(zip(ids, hashes, strict=True)) if current.get(pid) == h]
    for start in range(0, len(keep), 1000):
        part = keep[start : start + 1000]
        save_vectors(
            engine, model, [ids[i] for i in part], [hashes[i] for i in part], vectors[part]
        )
    return len(keep)


def export_vectors(engine: Engine, model: str, path: str | Path) -> int:
    """Write every vector of a model with its paper's content hash to a .npz (float16)."""
    ids: list[str] = []
    hashes: list[str] = []
    parts: list[np.ndarray] = []
    query = (
        select(embeddings.c.paper_id, embeddings.c.content_hash, embeddings.c.vector)
        .where(embeddings.c.model == model)
        .order_by(embeddings.c.paper_id)
    )
    with engine.connect() as conn:
        for pid, h, blob in conn.execute(query):
            ids.append(pid)
            hashes.append(h)
            parts.append(from_blob(blob))
    vectors = np.stack(parts).astype(np.float16) if parts else np.zeros((0, 0), np.float16)
    np.savez_compressed(
        path, ids=np.array(ids), content_hashes=np.array(hashes), vectors=vectors, model=model
    )
    return len(ids)
