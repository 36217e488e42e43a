"""Fusion designs compared on the dev split by `bench/search_quality.py --variants`.

Each has the signature of `paperroute.search.fusion.fuse` and replaces it inside the shipped
`SearchService.search`, so every variant runs the whole product path (candidates, relevance
floor, author queries); only the fusion differs. docs/search.md gives the numbers.
"""

from __future__ import annotations

import numpy as np

from fusion_main import fuse as main_fuse
from paperroute.search import fusion

K = 60


def _ranks(pairs):
    return {pid: r for r, (pid, _) in enumerate(pairs, start=1)}


def _title_list(lexical, overlap, at_least=0.6):
    """Lexical candidates whose title holds most query terms, most overlap first."""
    order = {pid: i for i, (pid, _) in enumerate(lexical)}
    held = [(pid, o) for pid, o in (overlap or {}).items() if o >= at_least and pid in order]
    return sorted(held, key=lambda kv: (-kv[1], order[kv[0]]))


def rrf2(lexical, vector, kind, overlap=None, weights=None):
    """Plain RRF of the two candidate lists (the vector list holds rescored lexical ones)."""
    return fusion.rrf(lexical, vector)


def rrf3(lexical, vector, kind, overlap=None, weights=None):
    """RRF of three lists: lexical, vector, and titles holding most of the query's terms."""
    lists = [lexical, vector, _title_list(lexical, overlap)]
    scores: dict[str, float] = {}
    for pairs in lists:
        for pid, r in _ranks(pairs).items():
            scores[pid] = scores.get(pid, 0.0) + 1 / (K + r)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _z(values: dict[str, float], depth: int) -> tuple[float, float]:
    top = np.array(sorted(values.values(), reverse=True)[:depth] or [0.0])
    return float(top.mean()), float(top.std()) or 1.0


def zsum(lexical, vector, kind, overlap=None, weights=None, depth=100, title=0.0, wl=1.0, wv=1.0):
    """z-scored BM25 + z-scored cosine, each standardised over its own top `depth`."""
    bm, cos = dict(lexical), dict(vector)
    (lm, ls), (vm, vs) = _z(bm, depth), _z(cos, depth)
    floor_l = (min(bm.values(), default=0.0) - lm) / ls
    scores = {}
    for pid in dict.fromkeys([*bm, *cos]):
        lz = (bm[pid] - lm) / ls if pid in bm else floor_l
        vz = (cos[pid] - vm) / vs if pid in cos else 0.0
        o = (overlap or {}).get(pid, 0.0)
        scores[pid] = wl * lz + wv * vz + (title * o if o >= 0.6 else 0.0)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _gap(values: dict[str, float], depth: int = 100) -> float:
    """How far the best score stands above the rest of its top `depth` (in their std units)."""
    top = np.array(sorted(values.values(), reverse=True)[:depth] or [0.0])
    return float((top[0] - top.mean()) / (top.std() or 1.0))


def zconf(lexical, vector, kind, overlap=None, weights=None, title=1.0, power=1.0):
    """z-score sum, each side weighted by how clearly its best candidate stands out."""
    bm, cos = dict(lexical), dict(vector)
    wl = _gap(bm) ** power if bm else 0.0
    wv = _gap(cos) ** power if cos else 0.0
    total = (wl + wv) or 1.0
    return zsum(lexical, vector, kind, overlap, title=title, wl=wl / total * 2, wv=wv / total * 2)


def zkind(lexical, vector, kind, overlap=None, weights=None, natural=0.25):
    """z-score sum + title, lexical weight `natural` for natural-language queries."""
    return zsum(lexical, vector, kind, overlap, title=1.0, wl=natural if kind == "natural" else 1.0)


def _natural(w: float):
    table = dict(fusion.WEIGHTS)
    table["natural"] = fusion.Weights(w, 1.0, 1.0)
    return lambda lex, vec, kind, overlap=None, weights=None: fusion.fuse(
        lex, vec, kind, overlap, table
    )


def _author(w: float):
    table = dict(fusion.WEIGHTS)
    table["author"] = fusion.Weights(w, 1.0, 1.0)
    return lambda lex, vec, kind, overlap=None, weights=None: fusion.fuse(
        lex, vec, kind, overlap, table
    )


VARIANTS = {
    "linear min-max by kind (main before)": main_fuse,
    "z-score fusion, author-name queries lexical 1.0": _author(1.0),
    "z-score fusion, author-name queries lexical 2.0 (shipped)": fusion.fuse,
    "z-score fusion, author-name queries lexical 4.0": _author(4.0),
}
EARLIER = {  # measured in the first rounds (docs/search.md), dropped
    "RRF of lexical and vector lists": rrf2,
    "RRF + title list": rrf3,
    "z-score sum (top 100)": zsum,
    "z-score sum (top 20)": lambda *a, **k: zsum(*a, depth=20),
    "z-score sum + title 1.0": lambda *a, **k: zsum(*a, title=1.0),
    "z-score sum + title 2.0": lambda *a, **k: zsum(*a, title=2.0),
    "z + title, natural lexical 0.25": zkind,
    "z + title, natural lexical 0.5": lambda *a, **k: zkind(*a, natural=0.5),
    "z + title, confidence weights": zconf,
    "z + title, confidence weights squared": lambda *a, **k: zconf(*a, power=2.0),
    "z + title, title queries in full, natural lexical 0.1": _natural(0.1),
    "z + title, title queries in full, natural lexical 0.5": _natural(0.5),
}
