"""Import the real recorded responses of every source beyond arXiv onto a fresh store and print
exact counts (docs/sources.md records them): per source, the records read, papers added and
records rejected; then the same files again (which must add nothing); then, on a second fresh
store, the arXiv corpus and the HF archive with the ACL volume and the Crossref records, counting
the papers that merged into one (an arXiv preprint that is also an ACL paper or a Crossref work),
and importing those four again (which must change nothing).

    PYTHONPATH=src python scripts/source_counts.py [--data /work/shared/data] [--no-overlap]

Every file of a source's folder that `paperroute import` recognises as that source's format is
imported (the others in those folders are API replies of other kinds: einfo, elink, errors).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from paperroute.sources.base import SourceError
from paperroute.sources.files import detect_format, read_file
from paperroute.sources.ingest import Ingest
from paperroute.store.engine import make_engine, migrate
from paperroute.store.papers import count_papers

GROUPS = {  # what the issue names -> (folder, format, only these files when given)
    "ACL 2024": ("acl_anthology", "acl-anthology", ["xml_2024-08-15/2024.acl.xml"]),
    "Crossref": ("crossref", "crossref", None),
    "OpenAlex": ("openalex", "openalex", None),
    "PubMed": ("pubmed", "pubmed", None),
    "bioRxiv": ("biorxiv", "biorxiv-feed", None),
    "journal feed (AJPH)": ("journal_feeds", "journal-feed", None),
}
ARXIV = ["arxiv_cs/arxiv_cs_papers.jsonl.gz", "hf_daily_papers/daily_papers_all.jsonl.gz"]


def files_of(data: Path, folder: str, fmt: str, only: list[str] | None) -> list[Path]:
    """The files of a folder that are in `fmt`, in name order."""
    if only:
        return [data / folder / name for name in only]
    found = []
    for path in sorted((data / folder).rglob("*")):
        if not path.is_file() or path.suffix in {".txt", ".tsv", ".yaml", ".rnc"}:
            continue
        try:
            if detect_format(path) == fmt:
                found.append(path)
        except SourceError:
            continue
    return found


def import_group(ingest: Ingest, paths: list[Path], fmt: str) -> dict[str, int]:
    """Import files, summing the reports."""
    total = {"files": len(paths), "records": 0, "added": 0, "updated": 0, "unchanged": 0}
    total["rejected"] = 0
    for path in paths:
        report = ingest.items(read_file(path, fmt), progress=False)
        total["records"] += report.records
        total["added"] += report.result.added
        total["updated"] += report.result.updated
        total["unchanged"] += report.result.unchanged
        total["rejected"] += report.error_count
    return total


def fresh_engine(folder: Path, name: str):
    engine = make_engine(f"sqlite:///{folder / name}")
    migrate(engine)
    return engine


def merged_with_arxiv(engine) -> list[tuple[str, str, str]]:
    """Papers with an arXiv id also from the ACL volume or Crossref: (id, arxiv id, title)."""
    sql = text(
        "SELECT p.id, i.value, p.title FROM papers p "
        "JOIN paper_identifiers i ON i.paper_id = p.id AND i.scheme = 'arxiv' "
        "WHERE EXISTS (SELECT 1 FROM provenance v WHERE v.paper_id = p.id "
        "AND v.source IN ('acl-anthology', 'crossref')) ORDER BY p.id"
    )
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sql)]


def reimport_overlap(ingest: Ingest, data: Path, groups: dict[str, list[Path]]) -> dict:
    """Import the arXiv corpus, the HF archive, the ACL volume and Crossref again: the two
    preprint sources word some papers differently at one version, so this is where an
    order-dependent merge shows (it changed 1,282 papers before the tie rule of store/merge)."""
    total = {"added": 0, "updated": 0}
    for path in ARXIV:
        report = ingest.items(read_file(data / path), progress=False)
        total["added"] += report.result.added
        total["updated"] += report.result.updated
    for name in ("ACL 2024", "Crossref"):
        rows = import_group(ingest, groups[name], GROUPS[name][1])
        total["added"] += rows["added"]
        total["updated"] += rows["updated"]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--no-overlap", action="store_true", help="Skip the arXiv overlap.")
    args = parser.parse_args()
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = fresh_engine(Path(tmp), "sources.db")
        ingest = Ingest(engine)
        groups = {k: files_of(args.data, *v) for k, v in GROUPS.items()}
        for round_name in ("first import", "second import"):
            rows = {}
            for name, paths in groups.items():
                rows[name] = import_group(ingest, paths, GROUPS[name][1])
            rows["papers in the store"] = count_papers(engine)
            out[round_name] = rows
        out["files"] = {k: [str(p.relative_to(args.data)) for p in v] for k, v in groups.items()}
        engine.dispose()
        if not args.no_overlap:
            engine = fresh_engine(Path(tmp), "overlap.db")
            ingest = Ingest(engine)
            started = time.perf_counter()
            for path in ARXIV:
                ingest.items(read_file(args.data / path), progress=False)
            before = count_papers(engine)
            for name in ("ACL 2024", "Crossref"):
                import_group(ingest, groups[name], GROUPS[name][1])
            merged = merged_with_arxiv(engine)
            after = count_papers(engine)
            out["overlap"] = {
                "arxiv and hf papers": before,
                "papers after ACL and Crossref": after,
                "merged with an arXiv preprint": len(merged),
                "examples": merged[:20],
                "second import of all four": reimport_overlap(ingest, args.data, groups),
                "seconds": round(time.perf_counter() - started, 1),
            }
            engine.dispose()
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
