"""Build the demo corpus shipped in the package from the real Hugging Face daily-papers archive.

Keeps the most recent days until about `--papers` distinct papers are in, and only paper fields:
submitter profiles, avatars and organisations are dropped (they are people's data, not papers').
The Hugging Face records carry no arXiv categories, so with `--arxiv` each paper that the arXiv
corpus also holds gets its categories from there (about half the demo); the others keep none
(nothing is guessed). Output: src/paperroute/data/demo_papers.jsonl.gz in the `hf-daily` format.

    python scripts/build_demo_corpus.py ../shared/data/hf_daily_papers/daily_papers_all.jsonl.gz \
        --arxiv ../shared/data/arxiv_cs/arxiv_cs_papers.jsonl.gz
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


def arxiv_categories(path: Path | None) -> dict[str, list[str]]:
    """arXiv id -> categories from an arXiv corpus file (JSON lines with `id`, `categories`)."""
    if path is None:
        return {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = (json.loads(line) for line in fh if line.strip())
        return {r["id"]: list(r["categories"]) for r in rows if r.get("categories")}


def strip_entry(entry: dict, categories: dict[str, list[str]]) -> dict:
    """Keep the paper fields of one archive entry; author names only; arXiv categories if known."""
    paper = {k: entry["paper"][k] for k in PAPER_KEYS if k in entry["paper"]}
    if entry["paper"]["id"] in categories:
        paper["categories"] = categories[entry["paper"]["id"]]
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
    parser.add_argument("--arxiv", type=Path, help="arXiv corpus to take categories from")
    args = parser.parse_args()
    categories = arxiv_categories(args.arxiv)
    with gzip.open(args.archive, "rt", encoding="utf-8") as fh:
        entries = [json.loads(line) for line in fh if line.strip()]
    entries.sort(key=lambda e: (e["_archive_date"], e["paper"]["id"]), reverse=True)
    chosen, ids = [], set()
    for entry in entries:
        if len(ids) >= args.papers and entry["_archive_date"] != chosen[-1]["_archive_date"]:
            break
        chosen.append(strip_entry(entry, categories))
        ids.add(entry["paper"]["id"])
    chosen.reverse()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip bytes reproducible across rebuilds.
    with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for entry in chosen:
            gz.write((json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode())
    days = sorted({e["_archive_date"] for e in chosen})
    known = len(ids & categories.keys())
    print(f"{len(ids)} papers ({known} with arXiv categories), {len(chosen)} entries,")
    print(f"{days[0]} .. {days[-1]} -> {args.out}")


if __name__ == "__main__":
    main()
