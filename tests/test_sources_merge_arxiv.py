"""Real papers that are both an arXiv preprint and an ACL 2024 paper merge into one, whichever is
imported first. tests/data/sources/merge/ holds the 8 ACL 2024 papers whose normalised title
equals an arXiv/HF paper's (from /work/shared/data: 2024.acl.xml trimmed to those papers, and
the arXiv corpus and HF archive lines of those arXiv ids). 7 merge; the 8th pair
(2024.acl-short.40, 2510.19367) does not: the ACL record gives the first author as
"Hamidullah Yasser" and arXiv as "Yasser Hamidullah", so title + first author do not agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperroute.sources.files import read_file
from paperroute.sources.ingest import Ingest
from paperroute.store.papers import count_papers, get_paper, resolve_paper_id

DATA = Path(__file__).parent / "data" / "sources" / "merge"
ACL = DATA / "2024.acl_overlap.xml"
ARXIV = [DATA / "arxiv_cs_overlap.jsonl", DATA / "hf_daily_overlap.jsonl"]
MERGED = {
    "2408.03256": "2024.acl-long.425",
    "2406.02265": "2024.acl-long.503",
    "2407.18248": "2024.acl-long.643",
    "2406.06263": "2024.acl-short.43",
    "2406.04523": "2024.acl-demos.27",
    "2506.03580": "2024.acl-srw.11",
    "2504.04151": "2024.acl-srw.50",
}


@pytest.mark.parametrize("acl_first", [True, False], ids=["acl first", "arxiv first"])
def test_arxiv_preprints_and_their_acl_papers_become_one_paper(engine, acl_first):
    ingest = Ingest(engine)
    files = [ACL, *ARXIV] if acl_first else [*ARXIV, ACL]
    for path in files:
        ingest.items(read_file(path), progress=False)
    assert count_papers(engine) == 8 + 8 - 7
    for arxiv_id, acl_id in MERGED.items():
        paper = get_paper(engine, arxiv_id)
        assert paper.id == arxiv_id  # arXiv URLs and the HF-compatible API keep working
        assert paper.identifiers["acl"] == acl_id
        assert (paper.venue, paper.year, paper.publication_type) == ("ACL", 2024, "proceedings")
        assert paper.track == acl_id.split("-")[1].split(".")[0]  # long, short, demos, srw
        assert resolve_paper_id(engine, f"acl/{acl_id}") == arxiv_id  # /papers/acl/<id>
    apart = get_paper(engine, "2510.19367")
    assert "acl" not in apart.identifiers
    assert resolve_paper_id(engine, "acl:2024.acl-short.40") == "acl:2024.acl-short.40"
    again = [ingest.items(read_file(path), progress=False).result for path in files]
    assert sum(r.added + r.updated for r in again) == 0  # a second import changes nothing
