"""Build the demo corpus shipped in the package from the real Hugging Face daily-papers archive.

Keeps the most recent days until about `--papers` distinct papers are in, and only paper fields:
submitter profiles, avatars and organisations are dropped (they are people's data, not papers').
Output: src/paperroute/data/demo_papers.jsonl.gz in the `hf-daily` archive format.

    python scripts/build_demo_corpus.py ../shared/data/hf_daily_papers/daily_papers_all.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

PAPER_KEYS = (
    "id",
    "publishedAt",
    "title",
    "summary",
    "upvotes",
    "githubRepo",
    "githubStars",
    "projectPage",
    "ai_keywords",
    "ai_summary",
    "submittedOnDailyAt",
)
ENTRY_KEYS = ("_archive_date", "publishedAt", "title", "numComments")
OUT = Path(__file__).resolve().parents[1] / "src" / "paperroute" / "data" / "demo_papers.jsonl.gz"


def strip_entry(entry: dict) -> dict:
    """Keep the paper fields of one archive entry; author names only."""
    paper = {k: entry["paper"][k] for k in PAPER_KEYS if k in entry["paper"]}
    paper["authors"] = [{"name": a["name"]} for a in entry["paper"].get("authors", [])]
    out = {k: entry[k] for k in ENTRY_KEYS if k in entry}
    out["paper"] = paper
    return out


def main() -> None:
    """Select the latest days of the archive and write the demo file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--papers", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with gzip.open(args.archive, "rt", encoding="utf-8") as fh:
        entries = [json.loads(line) for line in fh if line.strip()]
    entries.sort(key=lambda e: (e["_archive_date"], e["paper"]["id"]), reverse=True)
    chosen, ids = [], set()
    for entry in entries:
        if len(ids) >= args.papers and entry["_archive_date"] != chosen[-1]["_archive_date"]:
            break
        chosen.append(strip_entry(entry))
        ids.add(entry["paper"]["id"])
    chosen.reverse()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip bytes reproducible across rebuilds.
    with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for entry in chosen:
            gz.write((json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode())
    days = sorted({e["_archive_date"] for e in chosen})
    print(f"{len(ids)} papers, {len(chosen)} entries, {days[0]} .. {days[-1]} -> {args.out}")


if __name__ == "__main__":
    main()
