"""Hybrid fusion of lexical (BM25) and vector (cosine) results, weighted by the kind of query.

Linear fusion of normalised scores over the union of both candidate lists: BM25 divided by the
best BM25 of the query, cosine min-max scaled over the candidates; every lexical candidate has
an exact cosine (the service rescores the ones the ANN list missed), so a paper is not punished
for appearing in one list only. A paper with no vector yet gets the median cosine (neutral).
A bonus goes to candidates whose title holds most of the query's words (known-item searches,
whatever the kind: a long title with stop words reads as natural language), and to candidates
by an author the query names among its topic words ("Zhu hybrid linear attention"), which the
vector side cannot see. Reciprocal-rank fusion is kept for comparison in
bench/search_quality.py. Weights per query kind were tuned on the labelled queries
(docs/search.md has the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

import numpy as np


@dataclass(frozen=True)
class Weights:
    """Fusion weights for one kind of query."""

    lexical: float
    vector: float
    title_bonus: float


RRF_K = 60
AUTHOR_BONUS = 0.2  # a candidate by an author the query names (bench/fusion_lab.py, dev split)
WEIGHTS: dict[str, Weights] = {
    "keyword": Weights(lexical=0.6, vector=0.4, title_bonus=0.1),
    "natural": Weights(lexical=0.2, vector=0.8, title_bonus=0.1),
    "structured": Weights(lexical=0.7, vector=0.3, title_bonus=0.05),
}


def _weights(kind: str, weights: dict[str, Weights] | None) -> Weights:
    table = weights or WEIGHTS
    return table.get(kind) or table["keyword"]


def fuse(
    lexical: list[tuple[str, float]],
    vector: list[tuple[str, float]],
    kind: str,
    title_overlap: dict[str, float] | None = None,
    weights: dict[str, Weights] | None = None,
    limit: int | None = None,
    by_named_author: frozenset[str] | set[str] = frozenset(),
) -> list[tuple[str, float]]:
    """Fused (paper id, score) best first: weighted sum of normalised BM25 and cosine, plus the
    title and author bonuses (`by_named_author`: candidates by an author the query names);
    with `limit`, only the first `limit` of that same order."""
    w = _weights(kind, weights)
    bm25 = dict(lexical)
    cos = dict(vector)
    ids = list(dict.fromkeys([*bm25, *cos]))
    if not ids:
        return []
    top = max(bm25.values(), default=0.0) or 1.0
    lo, hi = (min(cos.values()), max(cos.values())) if cos else (0.0, 1.0)
    neutral = median(cos.values()) if cos else 0.0
    span = (hi - lo) or 1.0
    overlap = title_overlap or {}
    # Element-wise float64 arithmetic in the same order as the scalar formula
    # w.lexical * lex + w.vector * vec + bonus, so scores are bit-for-bit those of a loop (a
    # digest run fuses thousands of topic phrases; the loop cost ~2 us a candidate).
    lex = np.array([bm25.get(pid, 0.0) for pid in ids], dtype=np.float64) / top
    vec = (np.array([cos.get(pid, neutral) for pid in ids], dtype=np.float64) - lo) / span
    scores = w.lexical * lex + w.vector * vec
    if overlap:
        near = np.array([overlap.get(pid, 0.0) for pid in ids], dtype=np.float64)
        scores = scores + np.where(near >= 0.6, w.title_bonus * near, 0.0)
    if by_named_author:
        scores = scores + np.array([AUTHOR_BONUS if pid in by_named_author else 0.0 for pid in ids])
    if limit is not None and limit < len(ids):
        # Only what can be among the first `limit`: every score at or above the limit-th best
        # (ties included, so the id tie-break below orders them as a full sort would).
        cut = np.partition(scores, len(ids) - limit)[len(ids) - limit]
        keep = np.flatnonzero(scores >= cut)
        ids, scores = [ids[i] for i in keep], scores[keep]
        return sorted(zip(ids, scores.tolist(), strict=True), key=_best_first)[:limit]
    return sorted(zip(ids, scores.tolist(), strict=True), key=_best_first)


def _best_first(kv: tuple[str, float]) -> tuple[float, str]:
    return (-kv[1], kv[0])


def rrf(
    lexical: list[tuple[str, float]],
    vector: list[tuple[str, float]],
    w_lexical: float = 1.0,
    w_vector: float = 1.0,
) -> list[tuple[str, float]]:
    """Plain (weighted) reciprocal-rank fusion, for comparison."""
    scores: dict[str, float] = {}
    for rank, (pid, _) in enumerate(lexical, start=1):
        scores[pid] = scores.get(pid, 0.0) + w_lexical / (RRF_K + rank)
    for rank, (pid, _) in enumerate(vector, start=1):
        scores[pid] = scores.get(pid, 0.0) + w_vector / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
