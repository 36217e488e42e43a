"""Hybrid fusion of lexical (BM25) and vector (cosine) results.

Each side's scores are standardised (z-scores) over that side's own top `Z_DEPTH` candidates, so
both are on one scale whatever the query's length or the corpus size, and summed with a weight
per query kind. Every lexical candidate has an exact cosine (the service rescores the ones the
ANN list missed), so a paper is not punished for appearing in one list only; a paper no
lexical clause reached gets the lowest lexical z-score, one with no vector yet the median
cosine's (neutral). A bonus goes to candidates whose title holds most of the query's words
(known-item searches), and when one does the query is treated as a title search: lexical
evidence then counts in full even for a long, natural-language query.

Why not min-max or RRF (bench/search_quality.py on its dev split, docs/search.md): min-max
scaling let the few hundred weak OR-matches of a long query stretch the cosine range, and plain
RRF gave the near-useless lexical list of a paraphrase the same say as the vectors.
Reciprocal-rank fusion is kept for comparison in the bench.
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
Z_DEPTH = 100  # candidates per side the z-score statistics are taken over (depth-fair)
TITLE_MATCH = 0.6  # share of the query's terms in a title that marks a known-item search
WEIGHTS: dict[str, Weights] = {
    "keyword": Weights(lexical=1.0, vector=1.0, title_bonus=1.0),
    # Descriptions in plain words rarely share their rare words with the paper they describe.
    "natural": Weights(lexical=0.25, vector=1.0, title_bonus=1.0),
    "structured": Weights(lexical=1.0, vector=1.0, title_bonus=1.0),
    "title": Weights(lexical=1.0, vector=1.0, title_bonus=1.0),
    # A surname among topic words: only the lexical side can match the name.
    "author": Weights(lexical=2.0, vector=1.0, title_bonus=1.0),
}


def _weights(kind: str, weights: dict[str, Weights] | None) -> Weights:
    table = weights or WEIGHTS
    return table.get(kind) or table["keyword"]


def _stats(values: list[float]) -> tuple[float, float]:
    """Mean and spread of the best Z_DEPTH values (spread 1 when they are all equal)."""
    top = np.sort(np.asarray(values, dtype=np.float64))[::-1][:Z_DEPTH]
    return float(top.mean()), float(top.std()) or 1.0


def fuse(
    lexical: list[tuple[str, float]],
    vector: list[tuple[str, float]],
    kind: str,
    title_overlap: dict[str, float] | None = None,
    weights: dict[str, Weights] | None = None,
) -> list[tuple[str, float]]:
    """Fused (paper id, score) best first: weighted sum of z-scored BM25 and cosine."""
    bm25 = dict(lexical)
    cos = dict(vector)
    ids = list(dict.fromkeys([*bm25, *cos]))
    if not ids:
        return []
    overlap = title_overlap or {}
    if any(v >= TITLE_MATCH for v in overlap.values()):
        kind = "title"
    w = _weights(kind, weights)
    lex_mean, lex_sd = _stats(list(bm25.values()) or [0.0])
    vec_mean, vec_sd = _stats(list(cos.values()) or [0.0])
    lex_floor = (min(bm25.values(), default=0.0) - lex_mean) / lex_sd
    neutral = median(cos.values()) if cos else vec_mean
    scores = {}
    for pid in ids:
        lex = (bm25[pid] - lex_mean) / lex_sd if pid in bm25 else lex_floor
        vec = (cos.get(pid, neutral) - vec_mean) / vec_sd
        share = overlap.get(pid, 0.0)
        bonus = w.title_bonus * share if share >= TITLE_MATCH else 0.0
        scores[pid] = w.lexical * lex + w.vector * vec + bonus
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


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
