"""Search by citations: `citations:>N` in the query and sort=citations, on both databases, with
counts stored the way the Semantic Scholar enrichment stores them."""

from __future__ import annotations

from datetime import UTC, datetime

from paperroute.models import PaperRecord
from paperroute.search.query import parse_query
from paperroute.store.papers import upsert_records


def test_query_syntax_reads_a_citation_floor_and_leaves_other_words():
    assert parse_query("graph citations:>100").min_citations == 100
    assert parse_query("graph citations:>100").words == ["graph"]
    assert parse_query("cited:>=5 x").min_citations == 5
    assert parse_query("citations:many x").words == ["citations:many", "x"]


def test_citation_filter_and_sort(search):
    ids = [h.id for h in search.search("reasoning", limit=10).hits[:4]]
    observed = datetime(2026, 1, 1, tzinfo=UTC)
    upsert_records(search.engine, [
        PaperRecord(source="semantic_scholar", id=pid, citation_count=count, observed_at=observed)
        for pid, count in zip(ids, [5, 500, 50, 0], strict=True)
    ])  # fmt: skip
    most = [h.id for h in search.search("reasoning", sort="citations", limit=3).hits]
    assert most == [ids[1], ids[2], ids[0]]
    cited = {h.id for h in search.search("reasoning citations:>40", limit=50).hits}
    assert cited == {ids[1], ids[2]}
