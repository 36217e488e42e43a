"""Store: one paper per work across sources, by any shared identifier or by title, author, year."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from paperroute.models import Author, PaperRecord, Version, paper_path
from paperroute.store import papers as store_papers
from paperroute.store.engine import make_engine, migrate
from paperroute.store.schema import paper_identifiers
from paperroute.store.users import add_user
from paperroute.store.votes import toggle_vote

ARXIV_ID = "2402.01234"
ACL_DOI = "10.18653/v1/2024.acl-long.17"
TITLE = "Tokenizer Choice Shapes Multilingual Transfer"


def arxiv_record(doi: str | None = None, **extra) -> PaperRecord:
    """The arXiv preprint (v2), as the arXiv API gives it."""
    return PaperRecord(
        source="arxiv_api",
        id=ARXIV_ID,
        version=2,
        title=TITLE,
        abstract="We show that the tokenizer decides how well a model transfers.",
        authors=[Author("Grace Hopper"), Author("Alan Turing")],
        primary_category="cs.CL",
        categories=["cs.CL"],
        published=datetime(2024, 2, 3, tzinfo=UTC),
        announced=date(2024, 2, 5),
        doi=doi,
        versions=[Version(1, datetime(2024, 2, 3, tzinfo=UTC)), Version(2)],
        **extra,
    )


def acl_record(doi: str = ACL_DOI, first_author: str = "Grace Hopper", **extra) -> PaperRecord:
    """The published version, as the ACL Anthology gives it (no arXiv id)."""
    return PaperRecord(
        source="acl_anthology",
        id=f"doi:{doi}",
        title=TITLE + ".",
        abstract="We show that the tokenizer decides how well a model transfers.",
        authors=[Author(first_author), Author("Alan Turing")],
        identifiers={"doi": doi, "acl": "2024.acl-long.17"},
        doi=doi,
        venue="ACL",
        year=2024,
        track="long",
        publication_type="proceedings",
        pages="301--315",
        bibtex="@inproceedings{hopper-turing-2024-tokenizer, ...}",
        **extra,
    )


def s2_record(count: int = 41, observed=datetime(2024, 9, 1, tzinfo=UTC)) -> PaperRecord:
    """Semantic Scholar enrichment: citation count and TLDR, by DOI."""
    return PaperRecord(
        source="semantic_scholar",
        id=f"doi:{ACL_DOI}",
        identifiers={"doi": ACL_DOI.upper(), "s2": "abc123", "arxiv": ARXIV_ID},
        citation_count=count,
        influential_citations=4,
        tldr="Tokenizers matter for transfer.",
        observed_at=observed,
    )


def test_an_arxiv_preprint_and_its_acl_version_with_a_shared_doi_are_one_paper(engine):
    store_papers.upsert_records(engine, [arxiv_record(doi=ACL_DOI)])
    store_papers.upsert_records(engine, [acl_record()])
    assert store_papers.count_papers(engine) == 1
    paper = store_papers.get_paper(engine, ARXIV_ID)
    assert (paper.venue, paper.year, paper.track, paper.doi) == ("ACL", 2024, "long", ACL_DOI)
    assert paper.title == TITLE  # the arXiv record's text, not the published version's "."
    assert paper.identifiers == {"arxiv": ARXIV_ID, "doi": ACL_DOI, "acl": "2024.acl-long.17"}
    assert [v.version for v in paper.versions] == [1, 2]


def test_a_doi_keyed_paper_that_meets_its_preprint_takes_the_arxiv_id(engine):
    first = store_papers.upsert_records(engine, [acl_record()])
    assert first.changed_ids == {f"doi:{ACL_DOI}"}
    user = add_user(engine, "reader@example.org")
    toggle_vote(engine, user.id, f"doi:{ACL_DOI}")
    result = store_papers.upsert_records(engine, [arxiv_record()])  # only the title in common
    assert result.merged == {f"doi:{ACL_DOI}": ARXIV_ID}
    assert store_papers.count_papers(engine) == 1
    paper = store_papers.get_paper(engine, ARXIV_ID)
    assert (paper.venue, paper.doi, paper.upvotes) == ("ACL", ACL_DOI, 1)
    for old in (f"doi:{ACL_DOI}", f"doi/{ACL_DOI}", "acl/2024.acl-long.17", ACL_DOI.upper()):
        assert store_papers.resolve_paper_id(engine, old) == ARXIV_ID


def test_records_with_only_title_first_author_and_year_in_common_merge(engine):
    crossref = acl_record(doi="10.1000/other-doi-of-the-same-work")
    crossref.identifiers = {}
    crossref.doi = None
    crossref.id = "acl:2024.acl-long.17"
    store_papers.upsert_records(engine, [arxiv_record(), crossref])
    assert store_papers.count_papers(engine) == 1
    assert store_papers.get_paper(engine, ARXIV_ID).venue == "ACL"


def test_same_title_with_a_different_first_author_stays_a_different_paper(engine):
    store_papers.upsert_records(engine, [arxiv_record()])
    other = acl_record(doi="10.18653/v1/2024.acl-long.99", first_author="Ada Lovelace")
    other.identifiers = {"doi": other.doi}
    store_papers.upsert_records(engine, [other])
    assert store_papers.count_papers(engine) == 2
    assert store_papers.get_paper(engine, ARXIV_ID).venue is None


def test_two_arxiv_papers_that_claim_one_doi_stay_two(engine):
    twin = arxiv_record(doi=ACL_DOI)
    twin.id, twin.title = "2402.09999", "A different paper"
    store_papers.upsert_records(engine, [arxiv_record(doi=ACL_DOI), twin])
    assert store_papers.count_papers(engine) == 2


def test_citation_counts_keep_their_source_and_the_newest_count_wins(engine):
    store_papers.upsert_records(engine, [arxiv_record(), acl_record()])
    store_papers.upsert_records(engine, [s2_record(50, datetime(2024, 10, 1, tzinfo=UTC))])
    store_papers.upsert_records(engine, [s2_record(41, datetime(2024, 9, 1, tzinfo=UTC))])
    paper = store_papers.get_paper(engine, ARXIV_ID)
    assert (paper.citation_count, paper.citations_source) == (50, "semantic_scholar")
    assert (paper.tldr, paper.tldr_source) == (
        "Tokenizers matter for transfer.",
        "semantic_scholar",
    )
    assert paper.identifiers["s2"] == "abc123"


def test_reimporting_a_merged_batch_changes_nothing(engine):
    batch = [arxiv_record(), acl_record(), s2_record()]
    store_papers.upsert_records(engine, batch)
    again = store_papers.upsert_records(engine, batch)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)


@pytest.mark.parametrize(
    ("paper_id", "path"),
    [
        ("2402.01234", "/papers/2402.01234"),
        ("hep-th/9901001", "/papers/hep-th/9901001"),
        ("doi:10.18653/v1/2024.acl-long.17", "/papers/doi/10.18653/v1/2024.acl-long.17"),
        ("acl:2024.acl-long.1", "/papers/acl/2024.acl-long.1"),
        ("pmid:123", "/papers/pmid/123"),
        ("doi:10.1002/x#y?z", "/papers/doi/10.1002/x%23y%3Fz"),
    ],
)
def test_every_paper_has_one_url_by_its_best_identifier(paper_id, path):
    assert paper_path(paper_id) == path


# Property: however a set of records is ordered and cut into batches, the store ends the same.

_TEMPLATE: dict[str, Path] = {}


def _fresh_sqlite(tmp: Path) -> str:
    """A copy of one migrated SQLite file (migrating per example would dominate the test)."""
    if "db" not in _TEMPLATE:
        template = tmp / "template.db"
        eng = make_engine(f"sqlite:///{template}")
        migrate(eng)
        eng.dispose()
        _TEMPLATE["db"] = template
    target = tmp / f"example-{random.getrandbits(64):x}.db"
    shutil.copy(_TEMPLATE["db"], target)
    return f"sqlite:///{target}"


def _corpus() -> list[PaperRecord]:
    other = acl_record(doi="10.18653/v1/2024.acl-long.99", first_author="Ada Lovelace")
    other.identifiers = {"doi": other.doi, "acl": "2024.acl-long.99"}
    return [arxiv_record(), acl_record(), s2_record(), other, arxiv_record(doi=ACL_DOI)]


def _state(url: str) -> tuple:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            idents = sorted(conn.execute(select(paper_identifiers)).all())
        found = [
            (p.id, p.title, p.venue, p.year, p.doi, p.citation_count, p.latest_version)
            for p in store_papers.iter_papers(eng)
        ]
    finally:
        eng.dispose()
    return found, idents


@given(order=st.permutations(range(5)), cuts=st.sets(st.integers(1, 4)))
def test_store_ends_the_same_whatever_the_order_and_batching(tmp_path_factory, order, cuts):
    records = _corpus()
    tmp = tmp_path_factory.getbasetemp()
    reference = _fresh_sqlite(tmp)
    eng = make_engine(reference)
    store_papers.upsert_records(eng, records)
    eng.dispose()
    shuffled = [records[i] for i in order]
    url = _fresh_sqlite(tmp)
    eng = make_engine(url)
    edges = [0, *sorted(cuts), len(shuffled)]
    for start, end in zip(edges, edges[1:], strict=False):
        store_papers.upsert_records(eng, shuffled[start:end])
    eng.dispose()
    assert _state(url) == _state(reference)
    assert len(_state(url)[0]) == 2
