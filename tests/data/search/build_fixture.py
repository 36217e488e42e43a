"""Rebuild the search test fixture from /work/shared/data (run from the repository root).

300 real papers that appear in both the Hugging Face daily-papers archive and the arXiv cs
listing crawl (random.seed(7)), so each has upvotes, code links (HF) and categories (arXiv).
Only paper fields are kept: no submitter profiles.
"""

import gzip
import json
import random
from pathlib import Path

SHARED = Path("/work/shared/data")
HERE = Path(__file__).parent
HF_KEEP = (
    "id",
    "title",
    "summary",
    "authors",
    "publishedAt",
    "upvotes",
    "githubRepo",
    "githubStars",
    "projectPage",
    "ai_keywords",
)


def main() -> None:
    arx = {}
    with gzip.open(SHARED / "arxiv_cs/arxiv_cs_papers.jsonl.gz", "rt") as fh:
        for line in fh:
            d = json.loads(line)
            arx[d["id"]] = d
    hf = {}
    with gzip.open(SHARED / "hf_daily_papers/daily_papers_all.jsonl.gz", "rt") as fh:
        for line in fh:
            e = json.loads(line)
            if e["paper"]["id"] in arx and e["paper"]["id"] not in hf:
                hf[e["paper"]["id"]] = e
    random.seed(7)
    pick = sorted(random.sample(sorted(hf), 300))
    with gzip.open(HERE / "hf_daily.jsonl.gz", "wt") as out:
        for pid in pick:
            p = hf[pid]["paper"]
            paper = {k: p[k] for k in HF_KEEP if k in p}
            paper["authors"] = [{"name": a.get("name", "")} for a in p.get("authors") or []]
            out.write(
                json.dumps({"_archive_date": hf[pid]["_archive_date"], "paper": paper}) + "\n"
            )
    with gzip.open(HERE / "arxiv_listing.jsonl.gz", "wt") as out:
        for pid in pick:
            out.write(json.dumps(arx[pid]) + "\n")


if __name__ == "__main__":
    main()
