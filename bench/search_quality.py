"""Search quality on the real corpus: Recall@10 and MRR@10 of lexical, vector and hybrid search.

    python bench/search_quality.py [--papers N] [--tune]
    python bench/search_quality.py --demo [--floors 0.2,0.3,0.4]

Corpus: the HF daily papers (9.9k) then the arXiv cs crawl (74.7k), restricted to the prefix
that bench/embed.py has embedded (see docs/search.md for the size used). Queries:
bench/queries/labelled.jsonl, hand-written, three kinds: keyword, known-item (misremembered or
misspelled title) and plain-language paraphrase; each names the paper the reader wants.
The store is built once in bench/out/quality/ and reused while the corpus size is unchanged.

`--demo` needs no embedding pass: the bundled demo corpus (3,010 papers, shipped vectors) plus
the labelled queries' target papers (embedded on the spot), in bench/out/quality-demo/.
`--floors` also runs the shipped `SearchService.search` at each relevance floor, and counts the
results of nonsense queries (which should be none).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from embed import OUT, load_corpus, load_vectors  # noqa: E402
from paperroute.config import load_settings  # noqa: E402
from paperroute.models import Author, PaperRecord  # noqa: E402
from paperroute.search import fusion  # noqa: E402
from paperroute.search.embedder import DEFAULT_MODEL  # noqa: E402
from paperroute.search.query import parse_query  # noqa: E402
from paperroute.search.service import SearchFilters, SearchService  # noqa: E402
from paperroute.store.embeddings import save_vectors  # noqa: E402
from paperroute.store.engine import make_engine, migrate  # noqa: E402
from paperroute.store.papers import count_papers, upsert_records  # noqa: E402

QUERIES = Path(__file__).parent / "queries" / "labelled.jsonl"
KINDS = ("keyword", "known_item", "paraphrase")


def build_store(n: int | None) -> SearchService:
    """A SQLite store of the embedded corpus prefix with its vectors, and a search service."""
    corpus, vectors = load_vectors(load_corpus())
    if n:
        corpus, vectors = corpus[:n], vectors[:n]
    data_dir = OUT / "quality"
    settings = load_settings(data_dir=data_dir, database_url=None, load_demo=False)
    if data_dir.exists():
        engine = make_engine(settings.sqlalchemy_url)
        if count_papers(engine) == len(corpus):
            service = SearchService(settings, engine)
            service.open()
            return service
        engine.dispose()
        shutil.rmtree(data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    started = time.perf_counter()
    for lo in range(0, len(corpus), 2000):
        chunk = corpus[lo : lo + 2000]
        upsert_records(engine, [_record(p) for p in chunk])
        from sqlalchemy import select

        from paperroute.store.schema import papers

        with engine.connect() as conn:
            hashes = dict(
                conn.execute(
                    select(papers.c.id, papers.c.content_hash).where(
                        papers.c.id.in_([p.id for p in chunk])
                    )
                ).all()
            )
        save_vectors(
            engine,
            DEFAULT_MODEL,
            [p.id for p in chunk],
            [hashes[p.id] for p in chunk],
            vectors[lo : lo + 2000],
        )
    service = SearchService(settings, engine)
    service.open()
    print(f"built store of {len(corpus)} papers in {time.perf_counter() - started:.0f} s")
    return service


def build_demo_store() -> SearchService:
    """The demo corpus plus every labelled target paper, with vectors."""
    from paperroute.sources.demo import demo_corpus_path, demo_vectors_path
    from paperroute.sources.files import read_file
    from paperroute.sources.ingest import ingest_items
    from paperroute.store.embeddings import load_precomputed

    data_dir = OUT / "quality-demo"
    settings = load_settings(data_dir=data_dir, database_url=None, load_demo=False)
    fresh = not data_dir.exists()
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    service = SearchService(settings, engine)
    if fresh:
        ingest_items(engine, read_file(demo_corpus_path()), progress=False, desc="demo")
        load_precomputed(engine, demo_vectors_path())
        wanted = {pid for q in load_queries() for pid in q["relevant"]}
        upsert_records(engine, [_record(p) for p in load_corpus() if p.id in wanted])
        service.embed_pending()
    service.open()
    return service


NONSENSE = ["zzzzqqqxx", "asdfghjkl", "qwertyuiop zxcvb", "xkcd zzyzx frobnicate", "blorptang"]


def run_floors(service: SearchService, queries: list[dict], floors: list[float]) -> None:
    """The shipped search() at each relevance floor: quality table and nonsense result counts."""
    from paperroute.search import service as service_module

    shipped = service_module.FLOOR
    for floor in floors:
        service_module.FLOOR = floor
        service._rankings.clear()
        out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for q in queries:
            ranked = [h.id for h in service.search(q["query"], limit=10).hits]
            out[f"search(), floor {floor}"][q["type"]].append(metrics(ranked, set(q["relevant"])))
            out[f"search(), floor {floor}"]["all"].append(metrics(ranked, set(q["relevant"])))
        print_table(summarise(out))
        counts = {q: service.search(q, limit=10).total for q in NONSENSE}
        print(f"floor {floor}: nonsense query result counts {counts}")
    service_module.FLOOR = shipped


def _record(p) -> PaperRecord:
    return PaperRecord(
        source="bench",
        id=p.id,
        title=p.title,
        abstract=p.abstract,
        authors=[Author(a) for a in p.authors],
        categories=p.categories,
        primary_category=p.categories[0] if p.categories else None,
        announced=date.fromisoformat(p.announced) if p.announced else None,
        upvotes=p.upvotes,
    )


def load_queries() -> list[dict]:
    """The labelled queries."""
    return [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]


def metrics(ranked: list[str], relevant: set[str]) -> tuple[float, float]:
    """(Recall@10, reciprocal rank within the top 10)."""
    top = ranked[:10]
    recall = len(relevant & set(top)) / len(relevant)
    rr = next((1 / (i + 1) for i, pid in enumerate(top) if pid in relevant), 0.0)
    return recall, rr


def run_methods(service: SearchService, queries: list[dict], weights=None) -> dict:
    """Per method and query kind: lists of (recall, rr)."""
    out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for q in queries:
        parsed = parse_query(q["query"])
        lex, vec, _ = service.candidates(parsed, SearchFilters())
        relevant = set(q["relevant"])
        rows = service._hydrate(list(dict.fromkeys([p for p, _ in lex + vec])))
        from paperroute.search.service import FLOOR, _title_overlap

        vec = [h for h in vec if h[1] >= FLOOR or h[0] in {p for p, _ in lex}]
        overlap = _title_overlap(parsed, rows, set(rows))
        runs = {
            "lexical": [p for p, _ in lex],
            "vector": [p for p, _ in vec],
            "rrf": [p for p, _ in fusion.rrf(lex, vec)],
            "linear, equal weights": [p for p, _ in fusion.fuse(lex, vec, "keyword", None, _PLAIN)],
            "hybrid": [p for p, _ in fusion.fuse(lex, vec, parsed.kind, overlap, weights)],
        }
        for method, ranked in runs.items():
            out[method][q["type"]].append(metrics(ranked, relevant))
            out[method]["all"].append(metrics(ranked, relevant))
    return out


_PLAIN = {"keyword": fusion.Weights(0.5, 0.5, 0.0)}


def summarise(results: dict) -> dict:
    """Mean Recall@10 and MRR@10 per method and kind."""
    table = {}
    for method, by_kind in results.items():
        table[method] = {
            kind: {
                "recall@10": round(sum(r for r, _ in vals) / len(vals), 3),
                "mrr@10": round(sum(m for _, m in vals) / len(vals), 3),
                "n": len(vals),
            }
            for kind, vals in by_kind.items()
        }
    return table


def print_table(table: dict) -> None:
    """Print a markdown table."""
    kinds = [*KINDS, "all"]
    print("| method | " + " | ".join(f"{k} R@10 / MRR@10" for k in kinds) + " |")
    print("|---" * (len(kinds) + 1) + "|")
    for method, by_kind in table.items():
        cells = [f"{by_kind[k]['recall@10']:.3f} / {by_kind[k]['mrr@10']:.3f}" for k in kinds]
        print(f"| {method} | " + " | ".join(cells) + " |")


def tune(service: SearchService, queries: list[dict]) -> None:
    """Grid-search fusion weights per query kind; prints the best per kind."""
    grid = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    bonus = [0.0, 0.05, 0.1, 0.2]
    for kind in ("keyword", "natural"):
        best = None
        for wl in grid:
            for wb in bonus:
                weights = dict(fusion.WEIGHTS)
                weights[kind] = fusion.Weights(lexical=wl, vector=1 - wl, title_bonus=wb)
                table = summarise(run_methods(service, queries, weights))["hybrid"]
                score = table["all"]["mrr@10"] + table["all"]["recall@10"]
                if best is None or score > best[0]:
                    best = (score, wl, wb, table["all"])
        print(
            f"{kind}: best lexical weight {best[1]} (vector 1.0), title bonus {best[2]}: {best[3]}"
        )


def main() -> None:
    """Build or reuse the store, run the labelled queries, print the table."""
    parser = argparse.ArgumentParser(description="search quality on the real corpus")
    parser.add_argument("--papers", type=int, default=None, help="Use the first N papers.")
    parser.add_argument("--tune", action="store_true", help="Grid-search the fusion weights.")
    parser.add_argument("--demo", action="store_true", help="Demo corpus + targets (no pass).")
    parser.add_argument("--floors", default="", help="Relevance floors to compare, e.g. 0.2,0.3")
    args = parser.parse_args()
    service = build_demo_store() if args.demo else build_store(args.papers)
    queries = load_queries()
    print(f"corpus: {service.indexes.lexical.num_docs()} papers; queries: {len(queries)}")
    if args.tune:
        tune(service, queries)
    table = summarise(run_methods(service, queries))
    print_table(table)
    if args.floors:
        run_floors(service, queries, [float(f) for f in args.floors.split(",")])
    name = "search_quality-demo.json" if args.demo else "search_quality.json"
    (OUT / name).write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
