"""Keeping this node's search indexes (tantivy + usearch) in step with the database.

The database is the source of truth. At start-up each index is checked: a missing, damaged or
outdated one is rebuilt from the database (papers table / embeddings table), with a message; a
healthy one catches up on rows changed since its watermark. After an ingest `index_papers(ids)`
updates both incrementally.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from paperroute.search.lexical import IndexDoc, LexicalIndex
from paperroute.search.vectors import VectorIndex
from paperroute.store import embeddings as emb_store
from paperroute.store.papers import index_rows
from paperroute.store.pgvector_index import PgVectorIndex

log = logging.getLogger(__name__)
# Rows committed by a transaction that started before a sync began can carry an older timestamp;
# re-reading a window before the watermark catches them (re-indexing is idempotent).
OVERLAP = timedelta(minutes=2)
REFRESH_S = 10.0  # how often a serving process catches up on changes made by other processes
CATCH_UP_OVERLAP = timedelta(seconds=3 * REFRESH_S)


def row_to_doc(row: dict) -> IndexDoc:
    """The lexical index document of a paper (a row of `store.papers.index_rows`)."""
    return IndexDoc(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=row["authors"],
        categories=row["categories"],
        announced=row["announced"],
        has_code=row["has_code"],
        upvotes=row["upvotes"],
        venues=row["venues"],
        citations=row["citations"],
    )


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SearchIndexes:
    """The lexical and vector index of one node, opened lazily and kept in sync."""

    def __init__(
        self,
        engine: Engine,
        index_dir: Path,
        model: str,
        dim: Callable[[], int],
        vector_backend: str = "auto",
    ) -> None:
        self.engine = engine
        self.index_dir = Path(index_dir)
        self.model = model
        self._dim = dim
        # auto: pgvector inside PostgreSQL (shared by every node), a usearch file otherwise.
        self.vector_backend = vector_backend
        self.lock = threading.RLock()
        self._lexical: LexicalIndex | None = None
        self._vectors: VectorIndex | PgVectorIndex | None = None
        self.messages: list[str] = []
        self._refreshed = time.monotonic()
        self._caught_up = datetime.now(UTC)  # opening catches up to here (minus OVERLAP)
        self._catching_up = threading.Lock()
        self._generation = 0  # bumped by every change made through this object

    def version(self) -> tuple[int, ...]:
        """A value that changes when either index may have changed (cached rankings key on it):
        this object's own writes, plus what a reload shows of other processes' writes."""
        if self._lexical is None or self._vectors is None:
            return (self._generation,)
        searcher = self._lexical.searcher
        return (self._generation, searcher.num_docs, searcher.num_segments, len(self._vectors))

    # --- opening ---------------------------------------------------------------------------

    def open(self) -> list[str]:
        """Check both indexes, rebuild or catch up as needed; returns messages for the operator."""
        with self.lock:
            messages = []
            if self._lexical is None:
                messages += self._open_lexical()
            if self._vectors is None:
                messages += self._open_vectors()
            self._generation += 1
            for msg in messages:
                log.warning("search: %s", msg)
            self.messages += messages
            return messages

    def refresh(self) -> None:
        """Catch up on what other processes and nodes committed (at most every 10 s).

        The reader reloads at once (another process on this machine may have committed to the
        same lexical files); papers and vectors changed in the database since the last catch-up
        are indexed by a background thread, so a node whose local indexes another node does not
        write (several machines on one PostgreSQL) still finds every paper within ~REFRESH_S.
        """
        now = time.monotonic()
        if self._lexical is None or self._vectors is None or now - self._refreshed < REFRESH_S:
            return
        self._refreshed = now
        self._lexical.reload()
        vi = self._vectors
        # pgvector recounts its rows here; a usearch file saved by another process is reloaded.
        if vi.changed_elsewhere() and isinstance(vi, VectorIndex):
            with self.lock:
                fresh, problem = VectorIndex.open_checked(vi.path, vi.ndim, self.model)
                if problem is None:
                    self._vectors = fresh
                    self._generation += 1
        if self._catching_up.acquire(blocking=False):
            threading.Thread(target=self._catch_up, name="search-catch-up", daemon=True).start()

    def _catch_up(self) -> None:
        """Index what the database changed since the last catch-up (re-reading a short overlap:
        a transaction that started earlier may commit rows with an older timestamp)."""
        try:
            started = datetime.now(UTC)
            since = self._caught_up - CATCH_UP_OVERLAP
            with self.lock:
                n = changed = 0
                for rows in index_rows(self.engine, since=since):
                    n += self.lexical.add(row_to_doc(r) for r in rows)
                changed += n
                if n:
                    self.lexical.commit()
                    self.lexical.reload()
                if isinstance(self._vectors, VectorIndex):  # pgvector is shared: nothing to do
                    for ids, vecs, _ in emb_store.iter_vectors(
                        self.engine, self.model, since=since
                    ):
                        self._vectors.upsert(ids, vecs)
                        changed += len(ids)
            if changed:
                self._generation += 1
            self._caught_up = started
        except Exception:  # a busy writer lock or a lost connection: the next round retries
            log.warning("search: catching up on database changes failed", exc_info=True)
        finally:
            self._catching_up.release()

    @property
    def lexical(self) -> LexicalIndex:
        """The lexical index (opened on first use)."""
        if self._lexical is None:
            self.open()
        return self._lexical  # type: ignore[return-value]

    @property
    def vectors(self) -> VectorIndex | PgVectorIndex:
        """The vector index (opened on first use)."""
        if self._vectors is None:
            self.open()
        return self._vectors  # type: ignore[return-value]

    def _open_lexical(self) -> list[str]:
        idx, problem = LexicalIndex.open_checked(self.index_dir / "lexical")
        self._lexical = idx
        if problem:
            n = self.rebuild_lexical()
            return [f"{problem}; indexed {n} papers"]
        n = self._sync_lexical(_stamp(idx.read_meta().get("synced_at")))
        log.info("search: lexical index caught up on %d changed papers", n)
        return []

    def _vector_dim(self) -> int:
        return emb_store.vector_dim(self.engine, self.model) or self._dim()

    def _use_pgvector(self) -> bool:
        if self.vector_backend == "usearch":
            return False
        if self.engine.dialect.name != "postgresql":
            if self.vector_backend == "pgvector":
                raise ValueError("vector_backend pgvector needs a PostgreSQL database")
            return False
        return True

    def _open_vector_index(self, dim: int, expected: int | None):
        """The configured vector index, opened; pgvector falls back to usearch under `auto`."""
        if self._use_pgvector():
            meta = self.index_dir / "vectors.pgvector.json"
            try:
                return PgVectorIndex.open_checked(self.engine, meta, dim, self.model, expected)
            except Exception as exc:  # no pgvector extension (or no right to create it)
                if self.vector_backend == "pgvector":
                    raise
                log.warning("search: pgvector unavailable (%s); using a usearch index", exc)
                self.vector_backend = "usearch"
        path = self.index_dir / "vectors.usearch"
        return VectorIndex.open_checked(path, dim, self.model, expected)

    def _open_vectors(self) -> list[str]:
        expected = emb_store.count_vectors(self.engine, self.model)
        dim = self._vector_dim() if expected else 384
        vi, problem = self._open_vector_index(dim, expected)
        self._vectors = vi
        if problem is None or "holds" in problem:
            # Vectors saved by other processes (or after this node's last save) since the
            # watermark are added; only if the counts still disagree is a rebuild needed.
            n = self._sync_vectors(_stamp(vi.read_meta().get("synced_at")))
            if len(vi) == expected:
                log.info("search: vector index caught up on %d vectors", n)
                return []
            problem = problem or f"vector index holds {len(vi)} vectors, the database {expected}"
        if not expected:
            vi.save({"synced_at": datetime.now(UTC).isoformat()})
            return []
        n = self.rebuild_vectors()
        return [f"{problem}; indexed {n} vectors"]

    # --- rebuilding and syncing --------------------------------------------------------------

    def rebuild_lexical(self, progress: Callable[[int], None] | None = None) -> int:
        """Re-index every paper from the database into an empty lexical index."""
        with self.lock:
            started = datetime.now(UTC) - OVERLAP
            lex = self.lexical if self._lexical else LexicalIndex(self.index_dir / "lexical")
            self._lexical = lex
            lex.clear()
            self._generation += 1
            n = 0
            for rows in index_rows(self.engine):
                n += lex.add((row_to_doc(r) for r in rows), replace=False)
                if progress:
                    progress(len(rows))
            lex.commit()
            lex.write_meta({"synced_at": started.isoformat()})
            return n

    def _sync_lexical(self, since: datetime | None) -> int:
        started = datetime.now(UTC) - OVERLAP
        n = 0
        for rows in index_rows(self.engine, since=since):
            n += self._lexical.add(row_to_doc(r) for r in rows)  # type: ignore[union-attr]
        if n:
            self._lexical.commit()  # type: ignore[union-attr]
        self._lexical.write_meta({"synced_at": started.isoformat()})  # type: ignore[union-attr]
        return n

    def rebuild_vectors(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the vector index from the embeddings table."""
        with self.lock:
            started = datetime.now(UTC) - OVERLAP
            self._generation += 1
            dim = self._vector_dim()
            batches = emb_store.iter_vectors(self.engine, self.model, batch=10_000)
            # Opening pgvector may fall back to usearch (no extension): check what came back.
            opened = self._open_vector_index(dim, None)[0] if self._use_pgvector() else None
            if isinstance(opened, PgVectorIndex):
                self._vectors = opened
                opened.clear()
                for ids, vecs, _ in batches:
                    opened.upsert(ids, vecs)
                    if progress:
                        progress(len(ids))
                opened.finish_bulk_load()  # one HNSW build over all rows: faster than per row
                opened.save({"synced_at": started.isoformat()})
                return len(opened)
            vi = VectorIndex(self.index_dir / "vectors.usearch", dim, self.model)
            self._vectors = vi
            for ids, vecs, _ in batches:
                vi.index.add([_key(i, vi) for i in ids], vecs)
                if progress:
                    progress(len(ids))
            vi.save({"synced_at": started.isoformat()})
            return len(vi)

    def _sync_vectors(self, since: datetime | None) -> int:
        started = datetime.now(UTC) - OVERLAP
        n = 0
        for ids, vecs, _ in emb_store.iter_vectors(self.engine, self.model, since=since):
            self._vectors.upsert(ids, vecs)  # type: ignore[union-attr]
            n += len(ids)
        if n:
            self._vectors.save({"synced_at": started.isoformat()})  # type: ignore[union-attr]
        return n

    def index_papers(self, ids: Sequence[str]) -> int:
        """Update both indexes for these papers (after an ingest or an embedding pass)."""
        ids = list(dict.fromkeys(ids))
        with self.lock:
            self._generation += 1
            lex, vi = self.lexical, self.vectors
            found: set[str] = set()
            for rows in index_rows(self.engine, ids=ids):
                lex.add(row_to_doc(r) for r in rows)
                found.update(r["id"] for r in rows)
            gone = [i for i in ids if i not in found]
            lex.delete(gone)
            lex.commit()
            stored = emb_store.load_vectors(self.engine, self.model, list(found))
            if stored:
                vi.upsert(list(stored), _stack(stored.values()))
            vi.remove(gone + [i for i in found if i not in stored])
            # Not saved here: writing the whole HNSW file per ingest batch costs seconds at 1M;
            # `save_vectors` (embed pass end, shutdown) persists it, and the next start-up
            # catches up from the embeddings table anyway.
            return len(found)

    def add_vectors(self, ids: Sequence[str], vectors) -> None:
        """Put freshly computed vectors into the vector index (saved by `save_vectors`)."""
        with self.lock:
            self._generation += 1
            width = int(np.asarray(vectors).shape[-1])
            if len(self.vectors) == 0 and self.vectors.ndim != width:
                # Opened on a store without vectors, the index took MiniLM's 384 as a guess
                # (knowing the model's size would mean loading it at start-up); the first
                # vectors say the real size, and an empty index is simply made again.
                self._vectors = self._open_vector_index(width, None)[0]
            self.vectors.upsert(ids, vectors)

    def save_vectors(self) -> None:
        """Persist the vector index (its watermark stays at the last full sync)."""
        with self.lock:
            if self._vectors is not None:
                self._vectors.save()


def _key(pid: str, vi: VectorIndex) -> int:
    from paperroute.search.vectors import _OLD_FLAG, key_for

    key = key_for(pid)
    if key & _OLD_FLAG:
        vi.old_ids[key] = pid
    return key


def _stack(values):
    import numpy as np

    return np.stack(list(values))
