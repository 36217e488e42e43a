"""Vector search: a usearch HNSW index (f16, cosine) persisted in data_dir/index/vectors.usearch.

The embeddings table is the source of truth; this file is a per-node cache of it, updated
incrementally and rebuilt from the table when it is missing or unreadable. Keys are derived from
arXiv ids reversibly (2405.15738 -> 2405_15738) so no id map is needed for modern ids; old-style
ids (hep-th/9901001) get a hashed key recorded in a small sidecar map.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# onnxruntime (query embeddings, search/onnx_query.py) must be loaded before usearch: the other
# order segfaults inside onnxruntime's import (usearch 2.26, onnxruntime 1.32; reproduced with
# `python -c "import usearch.index, onnxruntime"`). Every usearch import goes through here.
import onnxruntime  # noqa: F401, I001  (load order only)
from usearch.index import Index

from paperroute.store.sidecar import read_json, write_json

# Measured with bench/search.py (docs/benchmarks.md): at 1M papers M=32/efC=128 reaches
# recall@10 0.9805 at expansion_search 1408 (0.975 at 1024) with hybrid p95 29-31 ms; smaller
# stores reach it sooner (100k: 0.988 at 512) and pay little for the larger ef.
CONNECTIVITY = 32
EXPANSION_ADD = 128
EXPANSION_SEARCH = 1408
_NEW = re.compile(r"(\d{4})\.(\d{4,5})")
_OLD_FLAG = 1 << 62


def key_for(paper_id: str) -> int:
    """The integer key of a paper id in the vector index."""
    m = _NEW.fullmatch(paper_id)
    if m:
        return int(m.group(1)) * 100_000 + int(m.group(2))
    digest = hashlib.blake2b(paper_id.encode(), digest_size=8).digest()
    return _OLD_FLAG | (int.from_bytes(digest, "little") & (_OLD_FLAG - 1))


class VectorIndex:
    """An HNSW index of paper vectors with paper-id keys."""

    def __init__(self, path: Path, ndim: int, model: str) -> None:
        self.path = Path(path)
        self.meta_path = self.path.with_suffix(".json")
        self.ndim = ndim
        self.model = model
        self.old_ids: dict[int, str] = {}
        self.index = self._new()
        self.loaded_mtime: int | None = None

    def _new(self) -> Index:
        return Index(
            ndim=self.ndim,
            metric="cos",
            dtype="f16",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    @classmethod
    def open_checked(
        cls, path: Path, ndim: int, model: str, expected: int | None = None
    ) -> tuple[VectorIndex, str | None]:
        """Load the saved index; returns (index, why it must be rebuilt or None)."""
        vi = cls(path, ndim, model)
        if not vi.path.exists() or not vi.meta_path.exists():
            return vi, "vector index missing: rebuilding from the embeddings table"
        try:
            meta = json.loads(vi.meta_path.read_text())
            if meta.get("model") != model or meta.get("ndim") != ndim:
                return vi, "vector index built for another model: rebuilding"
            loaded = Index.restore(str(vi.path))
            if loaded is None or loaded.ndim != ndim:
                raise ValueError("not a usearch index")
            loaded.expansion_search = EXPANSION_SEARCH
            vi.index = loaded
            vi.loaded_mtime = vi.path.stat().st_mtime_ns
            vi.old_ids = {int(k): v for k, v in meta.get("old_ids", {}).items()}
        except Exception as exc:  # usearch raises RuntimeError/ValueError on damaged files
            vi.index = vi._new()
            return vi, f"vector index unreadable ({exc}): rebuilding from the embeddings table"
        if expected is not None and len(vi.index) != expected:
            return vi, (
                f"vector index holds {len(vi.index)} vectors, the database {expected}: "
                "bringing it up to date"
            )
        return vi, None

    def __len__(self) -> int:
        return len(self.index)

    def changed_elsewhere(self) -> bool:
        """True when another process saved the index file since this one loaded it."""
        try:
            return self.path.stat().st_mtime_ns != self.loaded_mtime
        except OSError:
            return False

    def read_meta(self) -> dict:
        """Bookkeeping saved beside the index."""
        return read_json(self.meta_path)

    def save(self, extra: dict | None = None) -> None:
        """Write the index and its sidecar atomically (rename over the old files)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".usearch.tmp")
        self.index.save(str(tmp))
        os.replace(tmp, self.path)
        self.loaded_mtime = self.path.stat().st_mtime_ns
        meta = self.read_meta() | (extra or {})
        meta |= {"model": self.model, "ndim": self.ndim, "count": len(self.index)}
        meta["old_ids"] = {str(k): v for k, v in self.old_ids.items()}
        write_json(self.meta_path, meta)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add or replace vectors for papers."""
        if not len(ids):
            return
        keys = np.array([key_for(i) for i in ids], dtype=np.uint64)
        for pid, key in zip(ids, keys, strict=True):
            if key & _OLD_FLAG:
                self.old_ids[int(key)] = pid
        present = self.index.contains(keys)
        if np.any(present):
            self.index.remove(keys[present])
        self.index.add(keys, np.asarray(vectors, dtype=np.float32))

    def remove(self, ids: Sequence[str]) -> None:
        """Drop papers from the index."""
        keys = np.array([key_for(i) for i in ids], dtype=np.uint64)
        present = self.index.contains(keys) if len(keys) else keys
        if len(keys) and np.any(present):
            self.index.remove(keys[present])

    def id_for(self, key: int) -> str:
        """The paper id of a key."""
        key = int(key)
        if key & _OLD_FLAG:
            return self.old_ids.get(key, "")
        yymm, number = divmod(key, 100_000)
        # Four-digit numbers until 2014 (0704.0001), five from 1501 on (1501.00001).
        return f"{yymm:04d}.{number:05d}" if yymm >= 1501 else f"{yymm:04d}.{number:04d}"

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """(paper id, cosine similarity) of the k nearest papers, best first."""
        if len(self.index) == 0 or k <= 0:
            return []
        matches = self.index.search(np.asarray(vector, dtype=np.float32), min(k, len(self.index)))
        return [
            (self.id_for(key), 1.0 - float(d))
            for key, d in zip(matches.keys, matches.distances, strict=True)
        ]

    def get(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors (float32) of the papers that have one."""
        out: dict[str, np.ndarray] = {}
        if not ids:
            return out
        keys = np.array([key_for(i) for i in ids], dtype=np.uint64)
        present = self.index.contains(keys)
        found = [i for i, p in zip(ids, present, strict=True) if p]
        if not found:
            return out
        vecs = self.index.get(keys[present], dtype=np.float32)
        return {pid: np.asarray(v, dtype=np.float32) for pid, v in zip(found, vecs, strict=True)}
