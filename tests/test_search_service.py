"""Query syntax, filters, sorting, highlighting and bad input, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from paperroute.models import Author, PaperRecord
from paperroute.search.service import SearchFilters
from paperroute.store.papers import get_papers, upsert_records


def test_arxiv_id_or_url_jumps_to_the_paper(search):
    for query in ("2507.03724", "arXiv:2507.03724v2", "https://arxiv.org/abs/2507.03724"):
        results = search.search(query)
        assert results.jump_to == "2507.03724"
        assert [h.id for h in results.hits] == ["2507.03724"]


def test_unknown_arxiv_id_gets_a_message_not_an_error(search):
    results = search.search("2101.00001")
    assert results.hits == [] and "not in this library" in results.message


def test_author_query_returns_only_that_authors_papers(search):
    results = search.search('author:"Song Han"', limit=50)
    assert results.hits
    for hit in results.hits:
        assert any(a.lower() == "song han" for a in hit.authors)
        assert "author: Song Han" in hit.why


def test_category_syntax_restricts_results(search):
    results = search.search("video generation cat:cs.CL", limit=50)
    assert results.hits
    assert all("cs.CL" in h.categories for h in results.hits)


def test_quoted_phrase_requires_the_exact_phrase(search):
    results = search.search('"test-time scaling"', limit=50)
    assert results.hits
    for paper in get_papers(search.engine, [h.id for h in results.hits]):
        text = " ".join((paper.title + " " + paper.abstract).lower().replace("-", " ").split())
        assert "test time scaling" in text


def test_minus_word_excludes_papers_with_it(search):
    with_video = {h.id for h in search.search("diffusion", limit=100).hits}
    without = search.search("diffusion -video", limit=100).hits
    assert without and len(without) < len(with_video)
    assert all("video" not in h.title.lower() for h in without)


def test_filters_restrict_by_date_category_code_and_upvotes(search):
    filters = SearchFilters(
        date_from=date(2025, 6, 1),
        date_to=date(2025, 12, 31),
        categories=["cs.CV"],
        has_code=True,
        min_upvotes=5,
    )
    results = search.search("video generation", filters=filters, limit=50)
    assert results.hits
    papers = {p.id: p for p in get_papers(search.engine, [h.id for h in results.hits])}
    for hit in results.hits:
        paper = papers[hit.id]
        assert date(2025, 6, 1) <= paper.announced <= date(2025, 12, 31)
        assert "cs.CV" in paper.categories and paper.code_url
        assert paper.total_upvotes >= 5


def test_sort_by_date_and_by_upvotes(search):
    by_date = search.search("reasoning", sort="date", limit=20).hits
    dates = [h.announced for h in by_date]
    assert len(dates) > 5 and dates == sorted(dates, reverse=True)
    by_votes = search.search("reasoning", sort="upvotes", limit=20).hits
    votes = [h.upvotes for h in by_votes]
    assert len(votes) > 5 and votes == sorted(votes, reverse=True)


def test_pages_do_not_overlap_and_total_counts_matches(search):
    first = search.search("language models", limit=10)
    second = search.search("language models", limit=10, offset=10)
    assert first.total >= 20
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}


def test_a_hit_says_which_query_words_its_title_and_snippet_match(search):
    record = PaperRecord(
        source="test",
        id="2601.99999",
        title="Sparse <script>alert(1)</script> Attention & Friends",
        abstract="We study sparse attention with <b>bold</b> claims about attention heads.",
        authors=[Author("Ada Lovelace")],
        categories=["cs.LG"],
        announced=date(2026, 1, 2),
    )
    upsert_records(search.engine, [record])
    search.index_papers(["2601.99999"])
    hit = next(h for h in search.search("sparse attention", limit=20).hits if h.id == "2601.99999")
    assert hit.title == record.title  # plain text: the page escapes it, then marks the words
    assert hit.why[:2] == ["title: sparse, attention", "abstract: sparse, attention"]


BAD_QUERIES = [
    "",
    "   ",
    '"',
    '""',
    "AND OR",
    "*",
    "-",
    "--",
    "'; DROP TABLE papers; --",
    "title:foo AND (bar OR",
    "NEAR(a b) NOT c*",
    "author:",
    "cat:",
    'author:"',
    "x" * 10_000,
    "\x00\x01\x02 binary \xff\xfe",
    b"\x00\xff\xfe\x80 bytes",
    "🙂🙂🙂",
    "[]{}()^~:\\/",
]


@pytest.mark.parametrize("query", BAD_QUERIES, ids=range(len(BAD_QUERIES)))
def test_bad_queries_give_results_or_a_message_never_an_error(search, query):
    results = search.search(query, limit=5)
    assert results.hits or results.message
    assert isinstance(results.to_dict()["hits"], list)


def test_huge_query_is_shortened_with_a_message(search):
    results = search.search("video generation " * 1000)
    assert results.hits and "shortened" in results.message


def test_pages_one_to_five_of_a_broad_query_share_one_ranking_and_one_total(search):
    pages = [search.search("language models", limit=25, offset=25 * p) for p in range(5)]
    ids = [h.id for page in pages for h in page.hits]
    assert len(ids) == 125
    assert len(set(ids)) == len(ids), "a paper appeared on two pages"
    assert {page.total for page in pages} == {pages[0].total}
    # Each page is that slice of the whole ranking, as one big request would give it.
    assert ids == [h.id for h in search.search("language models", limit=125).hits]


def test_a_ranking_is_recomputed_when_the_index_changes(search):
    before = search.search("quantum annealing of protein folding", limit=50)
    record = PaperRecord(
        source="test",
        id="2601.88888",
        title="Quantum annealing of protein folding landscapes",
        abstract="We fold proteins on a quantum annealer.",
        authors=[Author("Ada Lovelace")],
        categories=["quant-ph"],
        announced=date(2026, 1, 3),
    )
    upsert_records(search.engine, [record])
    search.index_papers(["2601.88888"])
    after = search.search("quantum annealing of protein folding", limit=50)
    assert "2601.88888" not in [h.id for h in before.hits]
    assert "2601.88888" in [h.id for h in after.hits[:5]]


@pytest.mark.parametrize("query", ["zzzzqqqxx", "asdfghjkl", "qwertyuiop zxcvb"])
def test_nonsense_finds_nothing_and_says_how_to_fix_the_query(search, query):
    results = search.search(query)
    assert results.total == 0 and results.hits == []
    assert "Check the spelling" in results.message


def test_a_misspelt_word_gets_a_did_you_mean_from_the_titles(search):
    results = search.search("difusion transformer")
    assert results.suggestion == "diffusion transformer"
    assert search.search("diffusion transformer").suggestion is None


def test_an_authors_name_shows_that_authors_papers_first_and_only_relevant_others(search):
    theirs = {h.id for h in search.search('author:"Ziwei Liu"', limit=50).hits}
    results = search.search("Ziwei Liu", limit=50)
    assert results.author == "Ziwei Liu"
    ids = [h.id for h in results.hits]
    assert set(ids[: len(theirs)]) == theirs
    assert all("author: Ziwei Liu" in h.why for h in results.hits[: len(theirs)])
    # Papers of other Lius or Ziweis, and vector hits for a bare name, are not results.
    assert results.total == len(theirs)
    assert search.search("ziwei liu").author == "Ziwei Liu"
    assert search.search("video generation").author is None


@pytest.mark.parametrize(
    "filters", [SearchFilters(categories=["cs.CV"]), SearchFilters(has_code=True)]
)
def test_a_filter_alone_does_not_make_every_paper_a_match(search, filters):
    # A filter clause is a requirement, not a match: with it the query's words stay required
    # (one of them), or else every paper passing the filter was a lexical "match".
    results = search.search("zzqxv wuzzelbrot", filters=filters, limit=50)
    assert results.hits == [] and results.total == 0


def test_filter_syntax_alone_lists_the_newest_matching_papers_first(search, monkeypatch):
    """`cat:cs.CL` alone has no words to rank by: like a category listing it shows the newest
    papers first, and a capped candidate list keeps the newest, not an arbitrary few."""
    from paperroute.search import service as service_module

    every = search.search("cat:cs.CL", limit=100, sort="date")
    assert every.total > 10
    dates = [h.announced for h in every.hits]
    shown = search.search("cat:cs.CL", limit=100).hits  # the default sort: relevance
    assert [h.announced for h in shown] == dates
    monkeypatch.setattr(service_module, "LEXICAL_DEPTH", 10)
    search._rankings.clear()
    capped = search.search("cat:cs.CL", limit=10)
    assert [h.announced for h in capped.hits] == dates[:10]
    assert capped.message == f"Showing the newest 10 of {every.total} matching papers."
