"""Search speed at scale: index build, query latency (p50/p95), incremental update, memory.

    python bench/search.py build --papers 100000     # writes bench/out/speed-100000/
    python bench/search.py serve --papers 100000     # fresh process: opens, queries, RSS

The corpus is the real one scaled up: every synthetic paper takes a real paper's title, authors
and abstract, swaps in words and a sentence from another real paper, and gets the real MiniLM
vectors of the two mixed (0.85/0.35) plus noise, re-normalised; so the text statistics and the
vector geometry stay those of real papers. Queries: the 75 labelled queries plus 125 keyword
queries cut from random real titles, embedded by the real model at query time.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from embed import OUT, load_corpus, load_vectors  # noqa: E402
from paperroute.config import load_settings  # noqa: E402
from paperroute.search import vectors as vecmod  # noqa: E402
from paperroute.search.lexical import IndexDoc, LexicalIndex  # noqa: E402
from paperroute.search.query import parse_query  # noqa: E402
from paperroute.search.service import SearchFilters, SearchService  # noqa: E402
from paperroute.search.vectors import VectorIndex  # noqa: E402
from paperroute.store.engine import make_engine, migrate  # noqa: E402
from paperroute.store.schema import papers  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BATCH = 20_000
CHECKPOINT = 200_000


def synth_id(i: int) -> str:
    """A unique modern arXiv id for synthetic paper i (99,999 per month from 2001)."""
    month, number = divmod(i, 99_999)
    yy, mm = 20 + month // 12, month % 12 + 1
    return f"{yy:02d}{mm:02d}.{number + 1:05d}"


def rss_mb() -> float:
    """Resident memory of this process now, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Synth:
    """Generates synthetic papers from the real corpus, deterministically by index."""

    def __init__(self) -> None:
        self.texts = load_corpus()
        self.base, vecs = load_vectors(self.texts)
        self.vecs = vecs.astype(np.float32)
        print(f"real corpus: {len(self.texts)} texts, {len(self.base)} with vectors")

    def batch(self, lo: int, hi: int) -> tuple[list[IndexDoc], np.ndarray]:
        """Synthetic papers lo..hi-1 and their unit vectors."""
        rng = np.random.default_rng(lo)
        k = len(self.base)
        a = (np.arange(lo, hi) * 7919) % k
        b = rng.integers(0, k, hi - lo)
        mixed = 0.85 * self.vecs[a] + 0.35 * self.vecs[b]
        mixed += rng.normal(0, 0.02, mixed.shape).astype(np.float32)
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        docs = []
        pyrng = random.Random(lo)
        for j, (ia, ib) in enumerate(zip(a, b, strict=True)):
            pa, pb = self.base[ia], self.base[ib]
            words = pa.title.split()
            other = pb.title.split()
            if len(words) > 3 and other and lo + j >= k:
                words[pyrng.randrange(len(words))] = pyrng.choice(other)
            sentences = pa.abstract.split(". ")
            sentences.insert(pyrng.randrange(len(sentences) + 1), pb.abstract.split(". ")[0])
            docs.append(
                IndexDoc(
                    id=synth_id(lo + j),
                    title=" ".join(words),
                    abstract=". ".join(sentences),
                    authors=pa.authors,
                    categories=pa.categories or ["cs.CL"],
                    announced=date(2025, 1, 1) + timedelta(days=(lo + j) % 540),
                    has_code=(lo + j) % 3 == 0,
                    upvotes=(lo + j) % 50,
                )
            )
        return docs, mixed


def build(n: int) -> None:
    """Build the store, the lexical index and the vector index for n synthetic papers."""
    out = OUT / f"speed-{n}"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    settings = load_settings(data_dir=out, database_url=None, load_demo=False)
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    synth = Synth()
    lex = LexicalIndex(out / "index" / "lexical")
    vi = VectorIndex(out / "index" / "vectors.usearch", 384, MODEL)
    truth_vecs = np.zeros((n, 384), dtype=np.float16)
    t_lex = t_vec = t_db = 0.0
    now = datetime.now(UTC)
    for lo in range(0, n, BATCH):
        hi = min(n, lo + BATCH)
        docs, vecs = synth.batch(lo, hi)
        truth_vecs[lo:hi] = vecs
        t = time.perf_counter()
        lex.add(docs, replace=False)
        t_lex += time.perf_counter() - t
        t = time.perf_counter()
        vi.index.add(np.array([vecmod.key_for(d.id) for d in docs], dtype=np.uint64), vecs)
        t_vec += time.perf_counter() - t
        t = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(papers.insert(), [_row(d, now) for d in docs])
        t_db += time.perf_counter() - t
        print(f"{hi}/{n} lexical {t_lex:.0f}s vector {t_vec:.0f}s db {t_db:.0f}s", flush=True)
        if hi % CHECKPOINT == 0 or hi == n:
            # A checkpoint leaves a servable corpus of `hi` papers, so a run that has to be
            # stopped still yields numbers at the largest size reached.
            _checkpoint(out, hi, lex, vi, truth_vecs, now, t_lex, t_vec, t_db)


def _checkpoint(out, n, lex, vi, truth_vecs, now, t_lex, t_vec, t_db) -> None:
    t = time.perf_counter()
    lex.commit()
    lex.write_meta({"synced_at": now.isoformat()})
    t_lex += time.perf_counter() - t
    t = time.perf_counter()
    vi.save({"synced_at": now.isoformat()})
    t_save = time.perf_counter() - t
    np.save(out / "truth_vectors.npy", truth_vecs[:n])
    stats = {
        "papers": n,
        "lexical_build_s": round(t_lex, 1),
        "vector_build_s": round(t_vec, 1),
        "vector_save_s": round(t_save, 1),
        "db_insert_s": round(t_db, 1),
        "lexical_mb": round(sum(f.stat().st_size for f in lex.path.iterdir()) / 2**20),
        "vector_mb": round(vi.path.stat().st_size / 2**20),
        "hnsw": {"connectivity": vecmod.CONNECTIVITY, "expansion_add": vecmod.EXPANSION_ADD},
    }
    (out / "build.json").write_text(json.dumps(stats, indent=2))
    print(json.dumps(stats, indent=2), flush=True)


def _row(d: IndexDoc, now: datetime) -> dict:
    return {
        "id": d.id,
        "title": d.title,
        "abstract": d.abstract,
        "authors": [{"name": a, "affiliations": []} for a in d.authors],
        "categories": d.categories,
        "primary_category": d.categories[0],
        "announced": d.announced,
        "code_url": "https://github.com/x/y" if d.has_code else None,
        "hf_upvotes": d.upvotes,
        "upvotes": 0,
        "saves": 0,
        "keywords": [],
        "content_hash": "",
        "hidden": False,
        "featured": False,
        "first_seen": now,
        "last_changed": now,
    }


def _queries(n: int) -> list[str]:
    labelled = Path(__file__).parent / "queries" / "labelled.jsonl"
    qs = [json.loads(line)["query"] for line in labelled.read_text().splitlines() if line]
    rng = random.Random(5)
    corpus = load_corpus()
    for _ in range(125):
        words = rng.choice(corpus).title.split()
        start = rng.randrange(max(1, len(words) - 2))
        qs.append(" ".join(words[start : start + rng.choice([1, 2, 3])]))
    return qs


def _pct(values: list[float]) -> str:
    arr = np.array(values)
    return f"p50 {np.percentile(arr, 50):.1f} ms / p95 {np.percentile(arr, 95):.1f} ms"


def serve(n: int, efs: list[int]) -> None:
    """Open the built indexes in this fresh process and measure queries, recall and memory."""
    out = OUT / f"speed-{n}"
    n = json.loads((out / "build.json").read_text())["papers"]  # a stopped run: last checkpoint
    settings = load_settings(data_dir=out, database_url=None, load_demo=False)
    engine = make_engine(settings.sqlalchemy_url)
    base_rss = rss_mb()
    service = SearchService(settings, engine)
    service.embedder.embed_query("warm up the model")
    model_rss = rss_mb()
    t = time.perf_counter()
    # The bench store has no embeddings table rows (1M vectors would be 1.5 GB of SQLite), so
    # open the saved indexes directly instead of through the start-up check.
    service.indexes._lexical = LexicalIndex(out / "index" / "lexical")
    service.indexes._vectors, problem = VectorIndex.open_checked(
        out / "index" / "vectors.usearch", 384, MODEL, n
    )
    open_s = time.perf_counter() - t
    assert problem is None, problem
    queries = _queries(n)
    parsed = [parse_query(q) for q in queries]
    lexical, vector, embed, hybrid = [], [], [], []
    qvecs = []
    for p in parsed:
        t = time.perf_counter()
        q = service.indexes.lexical.build_query(p)
        service.indexes.lexical.search(q, 100)
        lexical.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        qv = service.embedder.embed_query(p.text)
        embed.append((time.perf_counter() - t) * 1000)
        qvecs.append(qv)
        t = time.perf_counter()
        service.indexes.vectors.search(qv, 100)
        vector.append((time.perf_counter() - t) * 1000)
    for q in queries:
        service._query_cache.clear()
        t = time.perf_counter()
        service.search(q, limit=10)
        hybrid.append((time.perf_counter() - t) * 1000)
    filtered = []
    flt = SearchFilters(categories=["cs.CV"], has_code=True, min_upvotes=10)
    for q in queries[:100]:
        t = time.perf_counter()
        service.search(q, limit=10, filters=flt)
        filtered.append((time.perf_counter() - t) * 1000)
    serve_rss = rss_mb()
    recall = _recall(service.indexes.vectors, out, np.stack(qvecs[:200]), efs)
    inc = _incremental(service, n)
    report = {
        "papers": n,
        "open_s": round(open_s, 2),
        "lexical": _pct(lexical),
        "query_embedding": _pct(embed),
        "vector_index": _pct(vector),
        "hybrid_end_to_end": _pct(hybrid),
        "hybrid_with_filters": _pct(filtered),
        "recall@10_by_ef": recall,
        "incremental_1000": inc,
        "rss_mb": {
            "python+libs": round(base_rss),
            "with_model": round(model_rss),
            "serving": round(serve_rss),
        },
    }
    (out / "serve.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def _recall(vi: VectorIndex, out: Path, qvecs: np.ndarray, efs: list[int]) -> dict:
    """Recall@10 of the HNSW index against exact search over all vectors, per expansion_search."""
    truth = np.load(out / "truth_vectors.npy", mmap_mode="r")
    scores = np.full((len(qvecs), 10), -np.inf, dtype=np.float32)
    idx = np.zeros((len(qvecs), 10), dtype=np.int64)
    for lo in range(0, len(truth), 100_000):
        block = np.asarray(truth[lo : lo + 100_000], dtype=np.float32)
        s = qvecs @ block.T
        top = np.argpartition(-s, 10, axis=1)[:, :10]
        cand_s = np.concatenate([scores, np.take_along_axis(s, top, 1)], axis=1)
        cand_i = np.concatenate([idx, top + lo], axis=1)
        order = np.argsort(-cand_s, axis=1)[:, :10]
        scores = np.take_along_axis(cand_s, order, 1)
        idx = np.take_along_axis(cand_i, order, 1)
    exact = [{synth_id(int(i)) for i in row} for row in idx]
    result = {}
    for ef in efs:
        vi.index.expansion_search = ef
        hits, times = 0, []
        for q, want in zip(qvecs, exact, strict=True):
            t = time.perf_counter()
            got = {pid for pid, _ in vi.search(q, 10)}
            times.append((time.perf_counter() - t) * 1000)
            hits += len(got & want)
        result[str(ef)] = {"recall@10": round(hits / (10 * len(qvecs)), 4), "latency": _pct(times)}
    vi.index.expansion_search = vecmod.EXPANSION_SEARCH
    return result


def _incremental(service: SearchService, n: int) -> dict:
    """Time to add 1,000 new papers to both indexes (vectors given; embedding timed apart)."""
    synth = Synth()
    docs, vecs = synth.batch(n, n + 1000)
    t = time.perf_counter()
    service.indexes.lexical.add(docs)
    service.indexes.lexical.commit()
    t_lex = time.perf_counter() - t
    t = time.perf_counter()
    service.indexes.vectors.upsert([d.id for d in docs], vecs)
    t_vec = time.perf_counter() - t
    t = time.perf_counter()
    service.embedder.embed([f"{d.title}. {d.abstract}" for d in docs[:64]])
    per_paper = (time.perf_counter() - t) / 64
    return {
        "lexical_s": round(t_lex, 2),
        "vector_s": round(t_vec, 2),
        "embedding_1000_s_estimated": round(per_paper * 1000, 1),
    }


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description="search speed at scale")
    parser.add_argument("phase", choices=["build", "serve"])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--ef", default="64,128,160,256", help="expansion_search values")
    parser.add_argument("--connectivity", type=int, help="HNSW M (default: the product's)")
    parser.add_argument("--expansion-add", type=int, help="HNSW efConstruction")
    parser.add_argument(
        "--search-ef", type=int, help="expansion_search of the hybrid queries (default: product's)"
    )
    args = parser.parse_args()
    vecmod.CONNECTIVITY = args.connectivity or vecmod.CONNECTIVITY
    vecmod.EXPANSION_ADD = args.expansion_add or vecmod.EXPANSION_ADD
    vecmod.EXPANSION_SEARCH = args.search_ef or vecmod.EXPANSION_SEARCH
    if args.phase == "build":
        build(args.papers)
    else:
        serve(args.papers, [int(x) for x in args.ef.split(",")])


if __name__ == "__main__":
    main()
