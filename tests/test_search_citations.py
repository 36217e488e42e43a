"""Search by citations: `citations:>N` in the query and sort=citations, on both databases, with
counts stored the way the Semantic Scholar enrichment stores them."""

from __future__ import annotations

from datetime import UTC, datetime

from paperroute.models import PaperRecord
from paperroute.search.query import parse_query
from paperroute.store.papers import upsert_records


def test_query_syntax_reads_a_citation_floor_and_leaves_other_words():
    assert parse_query("graph citations:>100").min_citations == 101  # more than 100
    assert parse_query("citations:100").min_citations == 100
    assert parse_query("graph citations:>100").words == ["graph"]
    assert parse_query("cited:>=5 x").min_citations == 5
    assert parse_query("citations:many x").words == ["citations:many", "x"]


def test_citation_filter_and_sort(search):
    ids = [h.id for h in search.search("reasoning", limit=10).hits[:4]]
    _cite(search, dict(zip(ids, [5, 500, 50, 0], strict=True)))
    most = [h.id for h in search.search("reasoning", sort="citations", limit=3).hits]
    assert most == [ids[1], ids[2], ids[0]]
    cited = {h.id for h in search.search("reasoning citations:>40", limit=50).hits}
    assert cited == {ids[1], ids[2]}


def _cite(search, counts: dict[str, int]) -> None:
    """Store citation counts the way the enrichment job does (through the search service's
    indexing of what changed)."""
    observed = datetime(2026, 1, 1, tzinfo=UTC)
    upsert_records(search.engine, [
        PaperRecord(source="semantic_scholar", id=pid, citation_count=n, observed_at=observed)
        for pid, n in counts.items()
    ])  # fmt: skip
    search.index_papers(list(counts))


def test_a_citation_floor_alone_lists_the_papers_cited_more_often_most_cited_first(
    search, monkeypatch
):
    from paperroute.search import service as service_module

    ids = [h.id for h in search.search("cat:cs.CL", limit=6).hits]
    _cite(search, dict(zip(ids, [5, 500, 40, 0, 41, 50], strict=True)))
    results = search.search("citations:>40", limit=50)
    assert [h.id for h in results.hits] == [ids[1], ids[5], ids[4]]  # 500, 50, 41: not 40
    assert results.total == 3 and results.message is None
    assert {h.id for h in search.search("cited:>=40", limit=50).hits} == {
        ids[1], ids[5], ids[4], ids[2]
    }  # fmt: skip
    # Capped at the candidate depth, the list keeps the most cited, not the newest few.
    monkeypatch.setattr(service_module, "LEXICAL_DEPTH", 2)
    search._rankings.clear()
    capped = search.search("citations:>40", limit=10)
    assert [h.id for h in capped.hits] == [ids[1], ids[5]]
    assert capped.message == "Showing the most cited 2 of 3 matching papers."


def test_a_citation_floor_with_a_category_alone_lists_that_category_most_cited_first(search):
    cl = [h.id for h in search.search("cat:cs.CL", limit=2).hits]
    cv = [h.id for h in search.search("cat:cs.CV", limit=50).hits if "cs.CL" not in h.categories]
    _cite(search, {cl[0]: 12, cl[1]: 90, cv[0]: 300})
    hits = search.search("cat:cs.CL citations:>10", limit=50).hits
    assert [h.id for h in hits] == [cl[1], cl[0]]
