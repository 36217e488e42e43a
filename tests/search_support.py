"""Shared set-up for the search tests: 300 real papers with precomputed real MiniLM vectors.

tests/data/search/ holds real papers (HF daily archive + arXiv listing, see build_fixture.py) and
their vectors computed by the bundled all-MiniLM-L6-v2 (scripts/build_demo_vectors.py). Queries
are embedded by the real bundled model at test time; `test_search_embeddings.py` checks that
the shipped vectors are what the model computes.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from paperroute.models import PaperRecord
from paperroute.search.embedder import Embedder
from paperroute.search.service import SearchService
from paperroute.sources.files import read_file
from paperroute.store.embeddings import load_precomputed
from paperroute.store.papers import upsert_records

DATA = Path(__file__).parent / "data" / "search"
FILES = [DATA / "arxiv_listing.jsonl.gz", DATA / "hf_daily.jsonl.gz"]
VECTORS = DATA / "vectors.npz"


@cache
def fixture_batches() -> tuple[tuple[PaperRecord, ...], ...]:
    """The fixture's records per file, parsed once per test session."""
    return tuple(tuple(r for r in read_file(p) if isinstance(r, PaperRecord)) for p in FILES)


def fixture_records() -> list[PaperRecord]:
    """Every fixture record."""
    return [r for batch in fixture_batches() for r in batch]


@cache
def real_embedder() -> Embedder:
    """The real bundled model, loaded once per test session."""
    return Embedder()


def load_fixture(engine) -> None:
    """Import the 300 fixture papers (file by file, as the vectors were built) and vectors."""
    for batch in fixture_batches():
        upsert_records(engine, batch)
    load_precomputed(engine, VECTORS)


def make_service(settings, engine, embedder: Embedder | None = None) -> SearchService:
    """A search service on the fixture store, indexes opened."""
    service = SearchService(settings, engine, embedder=embedder or real_embedder())
    service.open()
    return service


class HashEmbedder(Embedder):
    """Deterministic bag-of-words hashing embedder, for tests where the model is irrelevant
    (bookkeeping of which papers need vectors), so they do not pay for the real model."""

    def __init__(self, model_name: str = "test/hash-embedder", dim: int = 32) -> None:
        super().__init__(model_name)
        self._dim = dim
        self.calls = 0

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts, bf16=False):
        self.calls += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[i, int.from_bytes(digest, "little") % self._dim] += 1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-12)
        return out


@pytest.fixture(name="search")
def search_fixture(settings, engine) -> SearchService:
    """A SearchService over the fixture papers on each backend, with the real model."""
    load_fixture(engine)
    return make_service(settings, engine)
