"""arXiv API client against recorded /api/query responses on loopback (tests/data/sources/api)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperroute.sources.arxiv_api import ArxivAPISource
from paperroute.sources.base import SourceError
from test_sources_http import fake_client

DATA = Path(__file__).parent / "data" / "sources" / "api"


def serve(httpserver, query: dict, name: str, status: int = 200) -> None:
    httpserver.expect_request("/api/query", query_string=query).respond_with_data(
        (DATA / name).read_bytes(), status=status, content_type="application/atom+xml"
    )


def api(httpserver, **options):
    client, fake = fake_client("arxiv-api", min_interval=3.0)
    source = ArxivAPISource(base_url=httpserver.url_for("/api/query"), client=client, **options)
    return source, fake


def ids_query(ids: str, n: int) -> dict:
    return {"id_list": ids, "start": "0", "max_results": str(n)}


def test_versioned_id_gives_canonical_id_version_and_current_format_fields(httpserver):
    serve(httpserver, ids_query("2104.12255v1", 1), "id_2104.12255v1_s0_m100.xml")
    source, _ = api(httpserver, ids=["2104.12255v1"])
    [page] = list(source.pages())
    [paper] = page.items
    assert (paper.id, paper.version) == ("2104.12255", 1)
    assert paper.title == "0"
    assert paper.primary_category == "cs.CR" and paper.categories == ["cs.CR"]
    assert paper.published == datetime(2021, 4, 20, 16, 7, 14, tzinfo=UTC)
    assert [a.name for a in paper.authors] == ["Quan Thoi Minh Nguyen"]
    assert paper.pdf_url == "https://arxiv.org/pdf/2104.12255"
    assert paper.abstract.startswith("What is the funniest number in cryptography?")
    assert page.done


def test_id_lists_are_fetched_page_size_at_a_time_three_seconds_apart(httpserver):
    serve(httpserver, ids_query("2104.12255v1", 1), "id_2104.12255v1_s0_m100.xml")
    serve(httpserver, ids_query("astro-ph/0601001", 1), "id_astro-ph_0601001_s0_m100.xml")
    source, fake = api(httpserver, ids=["2104.12255v1", "astro-ph/0601001"], page_size=1)
    pages = list(source.pages())
    assert [r.id for p in pages for r in p.items] == ["2104.12255", "astro-ph/0601001"]
    assert fake.sleeps == [3.0]
    old = pages[1].items[0]
    assert [(a.name, a.affiliations) for a in old.authors][:2] == [
        ("Andrew Gould", ["Ohio State"]),
        ("Susan Dorsher", ["Ohio State"]),
    ]
    assert old.journal_ref == "ActaAstron.56:1-50,2006"
    assert old.comments.startswith("62 pages including 16 figures")


def test_search_query_pages_with_start_and_max_results(httpserver):
    for start in (0, 10, 20):
        query = {"search_query": "testing", "start": str(start), "max_results": "10"}
        serve(httpserver, query, f"q_testing_s{start}_m10.xml")
    source, fake = api(httpserver, query="testing", page_size=10, max_results=30)
    pages = list(source.pages())
    assert [len(p.items) for p in pages] == [10, 10, 10]
    assert [p.checkpoint for p in pages] == [{"start": 10}, {"start": 20}, None]
    assert pages[-1].done
    assert len({r.id for p in pages for r in p.items}) == 30
    assert fake.sleeps == [3.0, 3.0]
    assert source.total_results == 214881


def test_search_resumes_from_its_checkpoint(httpserver):
    query = {"search_query": "testing", "start": "20", "max_results": "10"}
    serve(httpserver, query, "q_testing_s20_m10.xml")
    source, _ = api(httpserver, query="testing", page_size=10, max_results=30)
    pages = list(source.pages(checkpoint={"start": 20}))
    assert len(pages) == 1 and len(pages[0].items) == 10
    assert len(httpserver.log) == 1


def test_paging_stops_at_total_results(httpserver):
    query = {"search_query": "ti:zero", "start": "0", "max_results": "100"}
    serve(httpserver, query, "id_2104.12255v1_s0_m100.xml")  # totalResults = 1
    source, _ = api(httpserver, query="ti:zero")
    pages = list(source.pages())
    assert len(pages) == 1 and pages[0].done and len(httpserver.log) == 1


def test_http_400_error_feed_raises_with_arxivs_message(httpserver):
    serve(httpserver, ids_query("abc", 1), "id_abc_s0_m100.xml", status=400)
    source, fake = api(httpserver, ids=["abc"])
    with pytest.raises(
        SourceError, match="arxiv-api: arXiv API error: incorrect id format for abc"
    ):
        list(source.pages())
    assert fake.sleeps == []  # a 400 is not retried


def test_empty_result_yields_no_records(httpserver):
    serve(httpserver, ids_query("0000.0000", 1), "id_0000.0000_s0_m100.xml")
    source, _ = api(httpserver, ids=["0000.0000"])
    pages = list(source.pages())
    assert [p.items for p in pages] == [[]] and pages[-1].done


def test_legacy_2016_format(httpserver):
    serve(httpserver, ids_query("1111.2011v2", 1), "legacy2016_id_list_1111.2011v2.xml")
    source, _ = api(httpserver, ids=["1111.2011v2"])
    [paper] = [r for p in source.pages() for r in p.items]
    assert (paper.id, paper.version) == ("1111.2011", 2)
    assert paper.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert paper.primary_category == "cond-mat.str-el"
    assert paper.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert paper.doi == "10.1103/PhysRevB.85.115117"
    assert paper.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert paper.comments == "8 pages, 3 figures. Published version"
    assert [(v.version, v.submitted.date().isoformat()) for v in paper.versions] == [
        (1, "2011-11-08"),
        (2, "2012-04-02"),
    ]


def test_ids_and_query_together_are_refused():
    with pytest.raises(SourceError, match="either ids or a search query"):
        ArxivAPISource(ids=["2104.12255"], query="testing")
