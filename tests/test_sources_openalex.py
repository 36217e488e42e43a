"""OpenAlex works against real responses (ResearchHub's fixtures, 2025; paper-qa's real 404) on
loopback. The list page was trimmed to 5 authorships and 3 locations per work (see the data
README); everything else is as recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperroute.sources.base import RecordError, SourceError
from paperroute.sources.files import detect_format, read_file
from paperroute.sources.ingest import Ingest
from paperroute.sources.openalex import OpenAlexSource, parse_works, rebuild_abstract
from test_sources_http import fake_client

DATA = Path(__file__).parent / "data" / "sources" / "openalex"
LIST = DATA / "list_cursor.json"
CURSOR = json.loads(LIST.read_text())["meta"]["next_cursor"]


def test_list_page_gives_doi_keys_identifiers_venue_and_keywords():
    page = parse_works(LIST.read_bytes())
    assert (page.total, page.next_cursor) == (11_111_537, CURSOR)
    first = page.items[0]
    assert first.id == "doi:10.1016/s0140-6736(20)30183-5"
    assert first.identifiers == {
        "doi": "10.1016/s0140-6736(20)30183-5",
        "openalex": "W3001118548",
        "pmid": "31986264",
        "pmcid": "PMC7159299",
    }
    assert (first.venue, first.year, first.volume, first.issue, first.pages) == (
        "The Lancet",
        2020,
        "395",
        "10223",
        "497-506",
    )
    assert first.citation_count == 50056 and first.issn == "0140-6736"
    assert first.keywords[:2] == [
        "SARS-CoV-2 and COVID-19 Research",
        "COVID-19 Clinical Research Studies",
    ]


def test_abstract_is_rebuilt_from_the_inverted_index():
    work = parse_works((DATA / "single_work.json").read_bytes()).items[0]
    assert work.id == "doi:10.1371/journal.pone.0305345" and work.year == 2024
    assert work.abstract.startswith(
        "Conducting this research contributes to a deeper understanding"
    )
    assert work.abstract.endswith("on lung cancer incidence.")
    assert rebuild_abstract({"world": [1], "hello": [0]}) == "hello world"


def test_filter_sync_pages_by_cursor_with_api_key_until_empty(httpserver):
    httpserver.expect_request("/works", query_string={
        "filter": "publication_year:2024", "per-page": "3", "cursor": "*", "api_key": "k1"
    }).respond_with_data(LIST.read_bytes(), content_type="application/json")  # fmt: skip
    httpserver.expect_request("/works", query_string={
        "filter": "publication_year:2024", "per-page": "3", "cursor": CURSOR, "api_key": "k1"
    }).respond_with_data((DATA / "empty.json").read_bytes())  # fmt: skip
    client, _ = fake_client("openalex")
    source = OpenAlexSource(filters={"publication_year": "2024"}, api_key="k1", per_page=3,
                            base_url=httpserver.url_for(""), client=client)  # fmt: skip
    pages = list(source.pages())
    assert [len(p.items) for p in pages] == [3, 0] and pages[-1].done
    assert pages[0].checkpoint == {"cursor": CURSOR, "seen": 3}


def test_unknown_doi_is_reported_and_an_error_body_raises(httpserver):
    httpserver.expect_request(
        "/works/https://doi.org/10.1046/j.1365-2699.2003.00795"
    ).respond_with_data((DATA / "not_found_404.html").read_bytes(), status=404)
    client, _ = fake_client("openalex")
    source = OpenAlexSource(
        dois=["10.1046/j.1365-2699.2003.00795"], base_url=httpserver.url_for(""), client=client
    )
    [item] = [i for p in source.pages() for i in p.items]
    assert isinstance(item, RecordError) and "OpenAlex has no such DOI" in str(item)
    with pytest.raises(SourceError, match="Invalid query parameters"):
        parse_works(b'{"error": "Invalid query parameters error.", "message": "bad filter"}')


def test_saved_response_imports_once(engine):
    assert detect_format(LIST) == "openalex"
    ingest = Ingest(engine)
    first = ingest.items(read_file(LIST), progress=False)
    again = ingest.items(read_file(LIST), progress=False)
    assert (first.result.added, again.result.added, again.result.updated) == (3, 0, 0)
