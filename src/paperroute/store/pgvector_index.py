"""The vector index inside PostgreSQL: pgvector HNSW over half-precision vectors.

On PostgreSQL every web node and worker shares one index in the database instead of each
keeping an HNSW file: a vector saved by the embedding worker is searchable everywhere at once.
Like the usearch file on SQLite it is derived data: a table per model (`vector_index_<hash>`),
filled from the embeddings table, rebuilt when it is missing, empty or incomplete. Migration
0010 creates the default model's table (and the extension); a table for another configured model
is created here when it is first opened. Parameters are the
ones measured in bench/search_pgvector.py (docs/benchmarks.md): m=16, ef_construction=64,
ef_search 400 gave recall@10 0.982 at p95 11.3 ms on 100k papers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pgvector.sqlalchemy import HALFVEC
from sqlalchemy import Column, Engine, MetaData, Table, Text, delete, func, inspect, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from paperroute.store.sidecar import read_json, write_json

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
EF_SEARCH = 400
_MAX_EF_SEARCH = 1000  # pgvector's limit
COUNT_TTL_S = 10.0  # other processes add vectors too: count again after this long


def vector_table_name(model: str, ndim: int) -> str:
    """The name of the table holding one model's vectors (a hash: model names hold slashes)."""
    return "vector_index_" + hashlib.sha1(f"{model}|{ndim}".encode()).hexdigest()[:12]


class PgVectorIndex:
    """Paper vectors of one model in a PostgreSQL table with an HNSW index (cosine)."""

    def __init__(self, engine: Engine, meta_path: Path, ndim: int, model: str) -> None:
        self.engine = engine
        self.meta_path = Path(meta_path)
        self.ndim = ndim
        self.model = model
        self.table = Table(
            vector_table_name(model, ndim),
            MetaData(),
            Column("paper_id", Text, primary_key=True),
            Column("vec", HALFVEC(ndim), nullable=False),
        )
        self._count: int | None = None
        self._counted_at = 0.0

    @property
    def _index_name(self) -> str:
        return f"{self.table.name}_hnsw"

    @classmethod
    def open_checked(
        cls, engine: Engine, meta_path: Path, ndim: int, model: str, expected: int | None = None
    ) -> tuple[PgVectorIndex, str | None]:
        """Open (creating the table if needed); returns (index, why it must be rebuilt or None).

        Raises when pgvector is not available in this database (the caller falls back).
        """
        vi = cls(engine, meta_path, ndim, model)
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            exists = inspect(conn).has_table(vi.table.name)
            if not exists:  # IF NOT EXISTS: two nodes may start at once
                conn.execute(
                    text(
                        f"CREATE TABLE IF NOT EXISTS {vi.table.name} "
                        f"(paper_id text PRIMARY KEY, vec halfvec({ndim}) NOT NULL)"
                    )
                )
                vi._create_hnsw(conn)
        if not exists:
            return vi, "vector index missing: rebuilding from the embeddings table"
        if expected and len(vi) == 0:  # made empty by the migration: one bulk build, not a sync
            return vi, "vector index empty: building it from the embeddings table"
        if expected is not None and len(vi) != expected:
            return vi, (
                f"vector index holds {len(vi)} vectors, the database {expected}: "
                "bringing it up to date"
            )
        return vi, None

    def _create_hnsw(self, conn) -> None:
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {self._index_name} ON {self.table.name} "
                f"USING hnsw (vec halfvec_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
            )
        )

    def __len__(self) -> int:
        # Searches ask every time: count again after a local change, or when the count is old
        # enough that the embedding worker may have added vectors (a web process that started
        # on an empty index would otherwise never use vectors).
        stale = time.monotonic() - self._counted_at > COUNT_TTL_S
        if self._count is None or stale:
            with self.engine.connect() as conn:
                self._count = int(
                    conn.execute(select(func.count()).select_from(self.table)).scalar()
                )
            self._counted_at = time.monotonic()
        return self._count

    def changed_elsewhere(self) -> bool:
        """Never: every process reads the same table."""
        return False

    def read_meta(self) -> dict:
        """This node's sync bookkeeping (the watermark of the last catch-up)."""
        return read_json(self.meta_path)

    def save(self, extra: dict | None = None) -> None:
        """Write the bookkeeping (the vectors themselves are already committed)."""
        meta = self.read_meta() | (extra or {}) | {"model": self.model, "ndim": self.ndim}
        write_json(self.meta_path, meta)

    def clear(self) -> None:
        """Empty the table and drop the HNSW index (a bulk load then builds it once)."""
        with self.engine.begin() as conn:
            conn.execute(text(f"DROP INDEX IF EXISTS {self._index_name}"))
            conn.execute(text(f"TRUNCATE {self.table.name}"))
        self._count = 0

    def finish_bulk_load(self) -> None:
        """Build the HNSW index after `clear` and a bulk load."""
        with self.engine.begin() as conn:
            self._create_hnsw(conn)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add or replace vectors for papers."""
        if not len(ids):
            return
        rows = [
            {"paper_id": pid, "vec": np.asarray(v, dtype=np.float32)}
            for pid, v in zip(ids, vectors, strict=True)
        ]
        stmt = pg_insert(self.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["paper_id"], set_={"vec": stmt.excluded.vec}
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
        self._count = None

    def remove(self, ids: Sequence[str]) -> None:
        """Drop papers from the index."""
        if not len(ids):
            return
        with self.engine.begin() as conn:
            conn.execute(delete(self.table).where(self.table.c.paper_id.in_(list(ids))))
        self._count = None

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """(paper id, cosine similarity) of the k nearest papers, best first."""
        if k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32)
        distance = self.table.c.vec.cosine_distance(query)
        stmt = select(self.table.c.paper_id, distance).order_by(distance).limit(k)
        with self.engine.begin() as conn:
            # The candidate list must be at least as long as the results asked for.
            ef = min(_MAX_EF_SEARCH, max(EF_SEARCH, k))
            conn.execute(text(f"SET LOCAL hnsw.ef_search = {ef}"))
            return [(pid, 1.0 - float(d)) for pid, d in conn.execute(stmt)]

    def get(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors (float32) of the papers that have one."""
        if not ids:
            return {}
        stmt = select(self.table.c.paper_id, self.table.c.vec).where(
            self.table.c.paper_id.in_(list(ids))
        )
        with self.engine.connect() as conn:
            return {pid: _array(vec) for pid, vec in conn.execute(stmt)}


def _array(value) -> np.ndarray:
    """float32 array of a fetched halfvec (a HalfVector or a list, by pgvector version)."""
    value = value.to_numpy() if hasattr(value, "to_numpy") else value
    return np.asarray(value, dtype=np.float32)
