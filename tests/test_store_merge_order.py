"""Property: merging records from several sources is idempotent and order-independent (issue 14).

Records of two papers as arXiv, Hugging Face, the ACL Anthology, Crossref, OpenAlex and Semantic
Scholar give them, tied by shared identifiers (DOI, arXiv id) or only by normalised title + first
author + year, plus a third paper with the same title and another first author. However they are
ordered and cut into batches, and when the whole set is imported a second time, the store holds
the same papers: ids, identifiers, versions, authors, categories, every field, provenance.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from paperroute.models import Author, PaperRecord, Version
from paperroute.store import papers as store_papers
from paperroute.store.engine import make_engine, migrate
from paperroute.store.schema import (
    paper_authors,
    paper_categories,
    paper_identifiers,
    paper_versions,
    papers,
    provenance,
)

ARXIV_A, DOI_A = "2402.01234", "10.18653/v1/2024.acl-long.17"
TITLE_A = "Tokenizer Choice Shapes Multilingual Transfer"
ARXIV_B, DOI_B = "2403.04321", "10.1162/tacl_a_00042"
TITLE_B = "Sparse Probes for Syntax in Language Models"
ABSTRACT = "We show that the tokenizer decides how well a model transfers."
WHEN = datetime(2024, 9, 1, tzinfo=UTC)


def _at(day: int) -> datetime:
    return datetime(2024, 9, day, tzinfo=UTC)


def _corpus() -> list[PaperRecord]:
    """Records that disagree where real sources do: titles' case and punctuation, venue names,
    page ranges, code links, citation counts observed at different times."""
    authors_a = [Author("Grace Hopper"), Author("Alan Turing")]
    authors_b = [Author("Ada Lovelace", ["Analytical Engines Ltd"]), Author("Charles Babbage")]
    return [
        PaperRecord(
            source="arxiv_oai",
            id=ARXIV_A,
            version=1,
            title=TITLE_A,
            abstract=ABSTRACT,
            authors=authors_a,
            primary_category="cs.CL",
            categories=["cs.CL", "cs.LG"],
            published=datetime(2024, 2, 3, tzinfo=UTC),
            announced=date(2024, 2, 5),
            versions=[Version(1, datetime(2024, 2, 3, tzinfo=UTC))],
            observed_at=_at(1),
        ),
        PaperRecord(
            source="arxiv_api",
            id=ARXIV_A,
            version=2,
            title=TITLE_A + ": Revised",
            abstract=ABSTRACT + " Revised.",
            authors=authors_a,
            primary_category="cs.CL",
            categories=["cs.CL"],
            published=datetime(2024, 2, 3, tzinfo=UTC),
            updated=datetime(2024, 6, 1, tzinfo=UTC),
            doi=DOI_A,
            journal_ref="ACL 2024",
            versions=[Version(1, datetime(2024, 2, 3, tzinfo=UTC)), Version(2, _at(1), size="1MB")],
            observed_at=_at(2),
        ),
        PaperRecord(
            source="hf_daily",
            id=ARXIV_A,
            title=TITLE_A,
            authors=authors_a,
            upvotes=12,
            github_stars=40,
            code_url="https://github.com/example/tokenizers",
            ai_summary="Tokenizers decide transfer.",
            keywords=["tokenizer", "transfer"],
            observed_at=_at(3),
        ),
        PaperRecord(
            source="hf_daily",
            id=ARXIV_A,
            title=TITLE_A,
            authors=authors_a,
            upvotes=30,
            github_stars=55,
            observed_at=_at(9),
        ),
        PaperRecord(
            source="acl_anthology",
            id=f"doi:{DOI_A}",
            title=TITLE_A + ".",
            abstract=ABSTRACT,
            authors=authors_a,
            identifiers={"doi": DOI_A, "acl": "2024.acl-long.17"},
            doi=DOI_A,
            venue="ACL",
            year=2024,
            track="long",
            publication_type="proceedings",
            pages="301--315",
            pdf_url="https://aclanthology.org/2024.acl-long.17.pdf",
            bibtex="@inproceedings{hopper-turing-2024-tokenizer, ...}",
            observed_at=_at(4),
        ),
        PaperRecord(
            source="crossref",
            id=f"doi:{DOI_A}",
            title="Tokenizer choice shapes multilingual transfer",
            authors=[Author("Hopper, Grace"), Author("Turing, Alan")],
            identifiers={"doi": DOI_A.upper()},
            doi=DOI_A.upper(),
            venue="Proceedings of the 62nd Annual Meeting of the Association for Computational "
            "Linguistics (Volume 1: Long Papers)",
            year=2024,
            publication_type="proceedings",
            pages="301-315",
            observed_at=_at(5),
        ),
        PaperRecord(
            source="semantic_scholar",
            id=f"doi:{DOI_A}",
            identifiers={"doi": DOI_A, "s2": "abc123", "arxiv": ARXIV_A},
            citation_count=41,
            influential_citations=4,
            tldr="Tokenizers matter for transfer.",
            observed_at=_at(6),
        ),
        PaperRecord(
            source="semantic_scholar",
            id=f"doi:{DOI_A}",
            identifiers={"doi": DOI_A, "s2": "abc123", "arxiv": ARXIV_A},
            citation_count=45,
            influential_citations=5,
            observed_at=_at(8),
        ),
        # Paper B: a journal article, its OpenAlex record without a DOI, and its preprint,
        # tied only by title + first author + year.
        PaperRecord(
            source="crossref",
            id=f"doi:{DOI_B}",
            title=TITLE_B,
            abstract="Probes find syntax.",
            authors=authors_b,
            identifiers={"doi": DOI_B},
            doi=DOI_B,
            venue="Transactions of the Association for Computational Linguistics",
            issn="2307-387X",
            volume="12",
            year=2024,
            publication_type="journal",
            observed_at=_at(4),
        ),
        PaperRecord(
            source="openalex",
            id="openalex:W123456789",
            title=TITLE_B.upper(),
            authors=authors_b,
            identifiers={"openalex": "W123456789"},
            venue="TACL",
            year=2024,
            publication_type="journal",
            issue="3",
            citation_count=7,
            observed_at=_at(7),
        ),
        PaperRecord(
            source="arxiv_api",
            id=ARXIV_B,
            version=1,
            title=TITLE_B,
            abstract="Sparse probes find syntax in language models.",
            authors=authors_b,
            primary_category="cs.CL",
            categories=["cs.CL"],
            published=datetime(2023, 12, 20, tzinfo=UTC),
            announced=date(2023, 12, 21),
            versions=[Version(1, datetime(2023, 12, 20, tzinfo=UTC))],
            observed_at=_at(2),
        ),
        # Paper C: B's title, another first author: another paper.
        PaperRecord(
            source="arxiv_api",
            id="2403.09999",
            version=1,
            title=TITLE_B,
            abstract="Another team, the same title.",
            authors=[Author("Edsger Dijkstra")],
            categories=["cs.CL"],
            published=datetime(2024, 3, 1, tzinfo=UTC),
            versions=[Version(1, datetime(2024, 3, 1, tzinfo=UTC))],
            observed_at=_at(2),
        ),
    ]


_TEMPLATE: dict[str, Path] = {}


def _fresh_sqlite(tmp: Path) -> str:
    """A copy of one migrated SQLite file (migrating per example would dominate the test)."""
    if "db" not in _TEMPLATE:
        template = tmp / "merge-order-template.db"
        eng = make_engine(f"sqlite:///{template}")
        migrate(eng)
        eng.dispose()
        _TEMPLATE["db"] = template
    target = tmp / f"merge-order-{random.getrandbits(64):x}.db"
    shutil.copy(_TEMPLATE["db"], target)
    return f"sqlite:///{target}"


def _state(url: str) -> dict[str, list]:
    """Everything stored about papers, but the moments this run stored them."""
    eng = make_engine(url)
    skip = {"first_seen", "last_changed"}
    try:
        with eng.connect() as conn:
            out = {
                "papers": [
                    {k: v for k, v in row.items() if k not in skip}
                    for row in conn.execute(select(papers).order_by(papers.c.id)).mappings()
                ],
                "provenance": sorted(
                    conn.execute(select(*(c for c in provenance.c if c.name != "id"))).all()
                ),
            }
            for table in (paper_identifiers, paper_versions, paper_authors, paper_categories):
                out[table.name] = sorted(tuple(map(str, r)) for r in conn.execute(select(table)))
    finally:
        eng.dispose()
    return out


def _import(url: str, records: list[PaperRecord], cuts: set[int]) -> None:
    eng = make_engine(url)
    edges = [0, *sorted(c for c in cuts if c < len(records)), len(records)]
    try:
        for start, end in zip(edges, edges[1:], strict=False):
            store_papers.upsert_records(eng, records[start:end])
    finally:
        eng.dispose()


_REFERENCE: dict[str, dict] = {}


def _reference(tmp: Path) -> dict:
    """The store after importing the corpus in its written order, in one batch."""
    if "state" not in _REFERENCE:
        url = _fresh_sqlite(tmp)
        _import(url, _corpus(), set())
        _REFERENCE["state"] = _state(url)
    return _REFERENCE["state"]


N = len(_corpus())


@settings(deadline=None)  # each example imports into SQLite twice: seconds on a loaded machine
@given(
    order=st.permutations(range(N)),
    again=st.permutations(range(N)),
    cuts=st.sets(st.integers(1, N - 1), max_size=4),
)
def test_any_order_and_batching_imported_twice_gives_the_same_store(
    tmp_path_factory, order, again, cuts
):
    tmp = tmp_path_factory.getbasetemp()
    reference = _reference(tmp)
    records = _corpus()
    url = _fresh_sqlite(tmp)
    _import(url, [records[i] for i in order], cuts)
    once = _state(url)
    assert once == reference
    _import(url, [records[i] for i in again], set())
    assert _state(url) == once
    assert [p["id"] for p in once["papers"]] == [ARXIV_A, ARXIV_B, "2403.09999"]
    assert once["papers"][0]["venue"] == "ACL"  # the earliest published observation's


def test_citation_counts_reported_at_the_same_moment_are_kept_whatever_their_order(engine):
    """Two sources' counts observed at one instant (a backfill stamping a whole run with its
    start): the higher count is kept, with its source, in either order and either batching."""
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def counts(pid):
        return [
            PaperRecord(source="semantic_scholar", id=pid, title="Probes", citation_count=40,
                        influential_citations=3, tldr="Probes find syntax.", observed_at=at),
            PaperRecord(source="openalex", id=pid, title="Probes", citation_count=45,
                        observed_at=at),
        ]  # fmt: skip

    store_papers.upsert_records(engine, counts("2401.00001"))  # one batch, written order
    store_papers.upsert_records(engine, counts("2401.00002")[::-1])  # one batch, reversed
    for record in counts("2401.00003"):  # a batch each
        store_papers.upsert_records(engine, [record])
    for record in counts("2401.00004")[::-1]:
        store_papers.upsert_records(engine, [record])
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                papers.c.citation_count,
                papers.c.influential_citations,
                papers.c.citations_source,
                papers.c.tldr,
                papers.c.tldr_source,
            ).order_by(papers.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (45, None, "openalex", "Probes find syntax.", "semantic_scholar")
    ] * 4


def test_two_preprint_sources_wording_one_version_differently_settle_in_any_order(tmp_path):
    """The arXiv corpus and the HF archive word some papers differently at the same version
    (`X$^{2}$` / `X^{2}`, a reworded abstract, another author list): the store keeps one
    wording whichever came last, and re-importing either changes nothing (641 papers flipped
    on every re-import of the two before)."""
    from factories import paper_record

    arxiv = paper_record(
        "2503.21779", source="arxiv-oai", title="X$^{2}$-Gaussian: 4D Splatting",
        abstract="We present X$^{2}$-Gaussian.", authors=[Author("Weihao Yu")],
    )  # fmt: skip
    hf = paper_record(
        "2503.21779", source="hf-daily", title="X^{2}-Gaussian: 4D Splatting",
        abstract="We present X^{2}-Gaussian, a method.",
        authors=[Author("Weihao Yu"), Author("Yuanhao Cai")],
    )  # fmt: skip
    stored = []
    for n, order in enumerate([(arxiv, hf), (hf, arxiv)]):
        engine = make_engine(f"sqlite:///{tmp_path / f'{n}.db'}")
        migrate(engine)
        for rec in order:
            store_papers.upsert_records(engine, [rec])
        again = [store_papers.upsert_records(engine, [rec]) for rec in order]
        assert [r.updated for r in again] == [0, 0]
        paper = store_papers.get_paper(engine, "2503.21779")
        stored.append((paper.title, paper.abstract, paper.author_names))
        engine.dispose()
    assert stored[0] == stored[1]


def test_unversioned_preprints_and_the_published_version_settle_in_any_order(tmp_path):
    """The real case the ACL 2024 volume showed: the arXiv listing and the HF archive give a
    preprint without a version number, the ACL volume its published version with affiliations
    and another spelling of an author. In every one of the six orders the store is the same, it
    holds the preprint's text (the published record only fills what the preprints lack), and a
    second import changes nothing (7 such papers came out differently by order before)."""
    from itertools import permutations

    from factories import paper_record

    pid, when = "2406.04523", datetime(2024, 6, 6, tzinfo=UTC)
    title = "Proofread: Fixes All Errors with One Tap"
    listing = paper_record(
        pid, source="arxiv-listing", published=when, title=title,
        abstract="We describe Proofread, a Gboard feature.",
        authors=[Author("Renjie Liu"), Author("Michael Xuelin Huang")],
    )  # fmt: skip
    hf = replace(listing, source="hf-daily", abstract="We describe Proofread, a Gboard feature!")
    acl = PaperRecord(
        source="acl-anthology", id="doi:10.18653/v1/2024.acl-demos.27",
        identifiers={"doi": "10.18653/v1/2024.acl-demos.27", "acl": "2024.acl-demos.27"},
        doi="10.18653/v1/2024.acl-demos.27", title=title,
        abstract="A different abstract, as the proceedings print it.",
        authors=[Author("Renjie Liu", ["Google"]), Author("Michael Huang", ["Google"])],
        venue="ACL", year=2024, publication_type="proceedings", observed_at=when,
    )  # fmt: skip
    stored = set()
    for n, order in enumerate(permutations([listing, hf, acl])):
        url = f"sqlite:///{tmp_path / f'{n}.db'}"
        engine = make_engine(url)
        migrate(engine)
        for rec in order:
            store_papers.upsert_records(engine, [rec])
        again = [store_papers.upsert_records(engine, [rec]).updated for rec in order]
        assert again == [0, 0, 0], order
        paper = store_papers.get_paper(engine, pid)
        engine.dispose()
        assert paper.author_names == ["Renjie Liu", "Michael Xuelin Huang"]
        assert paper.abstract.startswith("We describe Proofread")  # a preprint's, not ACL's
        assert paper.venue == "ACL"
        state = _state(url)
        stored.add(repr(state["papers"]))
    assert len(stored) == 1
