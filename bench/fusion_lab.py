"""Fusion designs compared offline: capture each query's fusion inputs once, rank them many ways.

    python bench/fusion_lab.py capture [--split dev|test]   # runs search() once per query
    python bench/fusion_lab.py eval [--split dev|test]      # every variant in VARIANTS, seconds

`capture` runs the shipped `SearchService.search` over bench/search_quality.py's store and
records what `_rank` hands to `fuse` (lexical hits, vector hits with exact cosine, query kind,
title overlap, the author-name papers), plus the exact BM25 of every vector candidate the
lexical top 500 missed. `eval` replays them through each variant (then the author step, as
`_rank` does) and prints bench/search_quality.py's table. Tune on dev; test once per design.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402

from embed import OUT  # noqa: E402
from paperroute.search import fusion  # noqa: E402
from paperroute.search import service as service_module  # noqa: E402
from paperroute.search.lexical import name_tokens, stem_tokens  # noqa: E402
from paperroute.search.query import STOP_WORDS, parse_query  # noqa: E402
from paperroute.search.service import SearchFilters  # noqa: E402
from search_quality import build_store, load_queries, metrics, print_table, summarise  # noqa: E402


def capture(split: str, papers: int = 28_779) -> None:
    """Record the fusion inputs of every query of a split (bench/out/fusion_lab-SPLIT.pkl)."""
    service = build_store(papers)
    queries = load_queries(split)
    seen: dict = {}
    real_fuse, real_first = service_module.fuse, service_module._author_first

    def fuse(lex, vec, kind, overlap=None, weights=None, limit=None):
        seen.update(lex=list(lex), vec=list(vec), kind=kind, overlap=dict(overlap or {}))
        return real_fuse(lex, vec, kind, overlap, weights, limit)

    def author_first(fused, ids):
        seen["author_ids"] = list(ids)
        return real_first(fused, ids)

    service_module.fuse, service_module._author_first = fuse, author_first
    records = []
    for q in queries:
        seen.clear()
        service._rankings.clear()
        shipped = [h.id for h in service.search(q["query"], limit=10).hits]
        rec = dict(seen, q=q, shipped=shipped)
        parsed = parse_query(q["query"])
        rec["parsed_words"] = parsed.words
        lex_ids = {p for p, _ in rec.get("lex", [])}
        missing = [p for p, _ in rec.get("vec", []) if p not in lex_ids]
        rec["lex_extra"] = _bm25_of(service, parsed, missing)
        rec["parsed_kind"] = parsed.kind
        rec["structured"] = parsed.structured
        lexical = service.indexes.lexical
        rec["df"] = {
            w: (
                max((lexical.doc_freq("authors", t) for t in name_tokens(w)), default=0),
                max(
                    (
                        lexical.doc_freq("title", t) + lexical.doc_freq("abstract", t)
                        for t in stem_tokens(w)
                    ),
                    default=0,
                ),
            )
            for w in parsed.words
        }
        names = [w for w, (a, t) in rec["df"].items() if a > t and w[:1].isupper()]
        ids = list(
            dict.fromkeys([p for p, _ in rec.get("lex", [])] + [p for p, _ in rec.get("vec", [])])
        )
        rec["titles"] = {k: v["title"] for k, v in service._hydrate(ids, ("id", "title")).items()}
        if names and parsed.text:
            rest = " ".join(w for w in parsed.words if w not in names)
            qvec = service.embed_query(rest)
            near = service.indexes.vectors.search(qvec, 200)
            extra = [p for p in ids if p not in {x for x, _ in near}]
            rec["vec_noname"] = sorted(near + service._rescore(qvec, extra), key=lambda kv: -kv[1])
            rec["names"] = names
            toks = [t for w in names for t in name_tokens(w)]
            within = lexical.filter_clauses(SearchFilters(within=frozenset(ids + missing)))
            import tantivy

            q_auth = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, lexical._term("authors", t)) for t in toks]
            )
            hits, _ = lexical.search(
                tantivy.Query.boolean_query([(tantivy.Occur.Must, q_auth), *within]), 2000
            )
            rec["author_match"] = {p for p, _ in hits}
        fixed = service._suggestion(parsed) if parsed.text else None
        if fixed:
            text = parse_query(fixed).text
            qvec = service.embed_query(text)
            near = service.indexes.vectors.search(qvec, 200)
            extra = [p for p in ids if p not in {x for x, _ in near}]
            rec["vec_fixed"] = sorted(near + service._rescore(qvec, extra), key=lambda kv: -kv[1])
            rec["fixed"] = fixed
        records.append(rec)
    (OUT / f"fusion_lab-{split}.pkl").write_bytes(pickle.dumps(records))
    print(f"captured {len(records)} queries")


def _bm25_of(service, parsed, ids: list[str]) -> dict[str, float]:
    """Exact BM25 of these papers for the query (0 for a paper that matches no word)."""
    if not ids:
        return {}
    lexical = service.indexes.lexical
    query = lexical.build_query(parsed, SearchFilters(within=frozenset(ids)))
    if query is None:
        return {}
    hits, _ = lexical.search(query, len(ids))
    return dict(hits)


# --- variants ------------------------------------------------------------------------------


def main_fuse(r, **_):
    """The shipped fusion (min-max cosine, weights by kind)."""
    return fusion.fuse(r["lex"], r["vec"], r["kind"], r["overlap"])


def rrf(r, **_):
    return fusion.rrf(r["lex"], r["vec"])


def kind_of(r, rule: str) -> str:
    """The query kind by a rule: `shipped` (ParsedQuery.kind) or `nostop` (no stop word at all
    makes a keyword query at any length)."""
    kind = r["parsed_kind"]
    stops = any(w.lower() in STOP_WORDS for w in r["parsed_words"])
    if rule == "nostop" and kind == "natural" and not stops:
        return "keyword"
    return kind


def _overlap(r, ids) -> dict[str, float]:
    q = set(stem_tokens(" ".join(r["parsed_words"])))
    if len(q) < 3:
        return {}
    return {p: len(q & set(stem_tokens(r["titles"].get(p, "")))) / len(q) for p in ids}


def general(
    r,
    fair=False,
    rule="shipped",
    norm="minmax",
    weights=None,
    overlap_all=False,
    noname=False,
    depth=None,
    impute=1.0,
    fixed=False,
    author=0.0,
    **_,
):
    """Linear fusion with switches: lexical scores for every candidate (`fair`), kind rule,
    cosine normalisation (`minmax` over candidates, `raw`, `top`: (cos - c_depth) / (c1 - c_depth)
    over the vector list, `z`: z-score over each side's top `depth`)."""
    lex = dict(r["lex"])
    if fair == "impute" and len(r["lex"]) >= 500:
        # a candidate past the lexical depth scores at most the last one kept
        floor = min(lex.values()) * impute
        lex.update({p: floor for p, _ in r["vec"] if p not in lex})
    elif fair:
        lex.update(r["lex_extra"])
    vec = r["vec_noname"] if noname and r.get("vec_noname") else r["vec"]
    if fixed == "max" and r.get("vec_fixed"):
        typed = dict(vec)
        vec = [(p, max(c, typed.get(p, c))) for p, c in r["vec_fixed"]]
    elif fixed == "mean" and r.get("vec_fixed"):
        typed = dict(vec)
        vec = [(p, (c + typed.get(p, c)) / 2) for p, c in r["vec_fixed"]]
    elif fixed and r.get("vec_fixed"):
        vec = r["vec_fixed"]
    cos = dict(vec)
    kind = kind_of(r, rule)
    w = (weights or fusion.WEIGHTS).get(kind) or fusion.WEIGHTS["keyword"]
    ids = list(dict.fromkeys([*lex, *cos]))
    if not ids:
        return []
    top = max(lex.values(), default=0.0) or 1.0
    cvals = np.array(sorted(cos.values(), reverse=True)) if cos else np.zeros(1)
    if norm == "minmax":
        lo, hi = float(cvals.min()), float(cvals.max())
    elif norm == "top":
        d = min(depth or 100, len(cvals)) - 1
        lo, hi = float(cvals[d]), float(cvals[0])
    else:  # raw, z
        lo, hi = 0.0, 1.0
    span = (hi - lo) or 1.0
    neutral = float(np.median(cvals))
    ov = _overlap(r, ids) if overlap_all else r["overlap"]
    out = {}
    if norm == "z":
        d = depth or 100
        lv = np.array(sorted(lex.values(), reverse=True)[:d] or [0.0])
        lm, ls = float(lv.mean()), float(lv.std()) or 1.0
        cm, cs = float(cvals[:d].mean()), float(cvals[:d].std()) or 1.0
        lfloor = (min(lex.values(), default=0.0) - lm) / ls
        for p in ids:
            lz = (lex[p] - lm) / ls if p in lex else lfloor
            vz = (cos.get(p, neutral) - cm) / cs
            o = ov.get(p, 0.0)
            out[p] = w.lexical * lz + w.vector * vz + (w.title_bonus * o * 10 if o >= 0.6 else 0.0)
    else:
        for p in ids:
            lx = lex.get(p, 0.0) / top
            vx = (cos.get(p, neutral) - lo) / span
            o = ov.get(p, 0.0)
            out[p] = w.lexical * lx + w.vector * vx + (w.title_bonus * o if o >= 0.6 else 0.0)
            if author and p in r.get("author_match", ()):
                out[p] += author
    return sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))


def _v(**kw):
    return lambda r: general(r, **kw)


NAT_TB = {
    **fusion.WEIGHTS,
    "natural": fusion.Weights(lexical=0.2, vector=0.8, title_bonus=0.1),
}
VARIANTS = {
    "shipped": main_fuse,
    "replayed (general)": _v(),
    "rrf of the fused inputs": rrf,
    "fair lexical": _v(fair=True),
    "kind: no stop words = keyword": _v(rule="nostop"),
    "fair + nostop": _v(fair=True, rule="nostop"),
    "fair + nostop + overlap all": _v(fair=True, rule="nostop", overlap_all=True),
    "fair + nostop, cos top100": _v(fair=True, rule="nostop", norm="top"),
    "fair + nostop, cos raw": _v(fair=True, rule="nostop", norm="raw"),
    "fair + nostop, z100": _v(fair=True, rule="nostop", norm="z"),
    "fair + nostop + noname": _v(fair=True, rule="nostop", noname=True),
    "impute + nostop": _v(fair="impute", rule="nostop"),
    "impute 0.5 + nostop": _v(fair="impute", rule="nostop", impute=0.5),
    "fair + nostop + natural title bonus 0.1": _v(fair=True, rule="nostop", weights=NAT_TB),
    "fair + fixed": _v(fair=True, fixed=True),
    "fair + fixed + nat tb": _v(fair=True, fixed=True, weights=NAT_TB),
    "fair + fixed + nostop + nat tb": _v(fair=True, rule="nostop", fixed=True, weights=NAT_TB),
    "fair + fixed + noname": _v(fair=True, fixed=True, noname=True),
    "fair + fixed + noname + author 0.2": _v(fair=True, fixed=True, noname=True, author=0.2),
    "fair + fixed + author 0.2": _v(fair=True, fixed=True, author=0.2),
    "fair + fixed(max) + nat tb + author 0.2": _v(
        fair=True, fixed="max", weights=NAT_TB, author=0.2
    ),
    "fair + fixed(mean) + nat tb + author 0.2": _v(
        fair=True, fixed="mean", weights=NAT_TB, author=0.2
    ),
    "fair + fixed + nat tb + author 0.2": _v(fair=True, fixed=True, weights=NAT_TB, author=0.2),
    "fair + fixed + nat tb + noname + author 0.2": _v(
        fair=True, fixed=True, weights=NAT_TB, noname=True, author=0.2
    ),
}


def evaluate(split: str, names: list[str] | None = None) -> None:
    """Print the per-kind table of every variant (and the shipped search's own top 10)."""
    records = pickle.loads((OUT / f"fusion_lab-{split}.pkl").read_bytes())
    out: dict = defaultdict(lambda: defaultdict(list))
    for r in records:
        q = r["q"]
        runs = {"search() as captured": r["shipped"]}
        for name, fn in VARIANTS.items():
            if names and name not in names:
                continue
            if "lex" not in r:
                ranked = []
            else:
                fused = fn(r)
                if r.get("author_ids"):
                    fused = service_module._author_first(fused, r["author_ids"])
                ranked = [p for p, _ in fused]
            runs[name] = ranked
        for name, ranked in runs.items():
            m = metrics(ranked, q)
            out[name][q["type"]].append(m)
            out[name]["all"].append(m)
    print_table(summarise(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("capture", "eval"))
    parser.add_argument("--split", default="dev")
    parser.add_argument("--papers", type=int, default=28_779)
    args = parser.parse_args()
    capture(args.split, args.papers) if args.what == "capture" else evaluate(args.split)


if __name__ == "__main__":
    _ = (np, STOP_WORDS)
    main()
