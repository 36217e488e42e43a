"""The embedding batch job: vectors for papers that are new or changed for the search service's
model, stored in the database and added to the vector index. Called by `paperroute embed`, the
worker's embed job and, for a few papers, by the search service as they are stored; the query
service itself only answers queries.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from paperroute.search.embedder import paper_text
from paperroute.store import embeddings as emb_store

if TYPE_CHECKING:
    from paperroute.search.service import SearchService

# Texts per embedding batch when the job can be stopped: about 1 s on 2 busy cores (15.6 texts/s,
# docs/search.md), so SIGTERM stops the server's background embedding well within 5 s.
STOPPABLE_BATCH = 16


def embed_pending(
    search: SearchService,
    progress: bool = False,
    limit: int | None = None,
    stop: threading.Event | None = None,
    ids: Sequence[str] | None = None,
) -> int:
    """Embed papers that are new or changed for the search service's model (only among `ids`
    when given); commits per batch (resumable). Returns how many were embedded.

    With `stop`, batches are STOPPABLE_BATCH texts and it returns, with what it finished
    saved, soon after `stop` is set: a shutdown then waits about a second, not a batch.
    """
    from tqdm import tqdm

    engine, model = search.engine, search.model
    todo = len(ids) if ids is not None else emb_store.count_pending(engine, model)
    if limit is not None:
        todo = min(todo, limit)
    done = 0
    batch = STOPPABLE_BATCH if stop else max(1, search.settings.embedding_batch_size) * 4
    with tqdm(total=todo, desc="embedding", unit="paper", disable=not progress) as bar:
        for rows in emb_store.iter_pending(engine, model, batch, ids):
            if stop is not None and stop.is_set():
                break
            rows = rows[: todo - done]
            vecs = search.embedder.embed([paper_text(r["title"], r["abstract"]) for r in rows])
            batch_ids = [r["id"] for r in rows]
            hashes = [r["content_hash"] for r in rows]
            emb_store.save_vectors(engine, model, batch_ids, hashes, vecs)
            search.indexes.add_vectors(batch_ids, vecs)
            done += len(rows)
            bar.update(len(rows))
            if done >= todo:
                break
    if done:
        search.indexes.save_vectors()
    return done
