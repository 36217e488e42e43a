"""Crossref works against real recorded responses (habanero's cassettes, 2026) on loopback.

The cursor chain was recorded for /members/98/works?rows=5; it is served here at the routes the
source asks for (/works with a filter, /journals/<issn>/works): the bodies are the real ones. The
X-Rate-Limit headers are the values those cassettes recorded (5 per 1s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperroute.sources.base import RecordError, SourceError
from paperroute.sources.crossref import CrossrefSource, parse_works, rate_interval
from paperroute.sources.files import detect_format, read_file
from paperroute.sources.ingest import Ingest, checkpoint_key_for
from test_sources_http import fake_client

DATA = Path(__file__).parent / "data" / "sources" / "crossref"
PAGES = [DATA / f"members98_cursor_page{i}.json" for i in range(4)]
LIMITS = {"X-Rate-Limit-Limit": "5", "X-Rate-Limit-Interval": "1s"}


def serve_chain(httpserver, path: str, query: dict | None = None) -> None:
    """The four recorded pages, in order (Crossref repeats one cursor along a deep chain)."""
    for page in PAGES:
        httpserver.expect_oneshot_request(path, query_string=query).respond_with_data(
            page.read_bytes(), content_type="application/json", headers=LIMITS
        )


def source(httpserver, **options):
    client, fake = fake_client("crossref")
    return CrossrefSource(base_url=httpserver.url_for(""), client=client, rows=5, **options), fake


def test_one_work_gives_doi_key_journal_fields_and_jats_free_abstract():
    [work] = parse_works((DATA / "work_10.1109_icdcsw.2003.1203662.json").read_bytes()).items
    assert work.id == "doi:10.1109/icdcsw.2003.1203662"
    assert work.identifiers == {"doi": "10.1109/icdcsw.2003.1203662"}
    assert work.publication_type == "proceedings" and work.pages == "877-882"
    assert work.year is None  # its "issued" date-parts are [[null]]: unknown, not an error
    first = parse_works(PAGES[0].read_bytes()).items[0]
    assert first.abstract.startswith("Well differentiated liposarcoma (WDLS) is the commonest")
    assert "<jats" not in first.abstract
    assert (first.venue, first.volume, first.pages, first.citation_count) == (
        "Pathology Research International",
        "2010",
        "1-4",
        2,
    )
    assert first.authors[0].name == "Cathy S. Lim"


def test_a_work_without_title_is_rejected_by_number_and_doi():
    items = parse_works(PAGES[0].read_bytes()).items
    assert str(items[4]) == "crossref: record 5 (10.1002/humu.2018.39.issue-6): missing title"


def test_filter_sync_follows_the_cursor_honours_rate_limits_and_stops_at_max(httpserver):
    serve_chain(httpserver, "/works")
    crossref, fake = source(
        httpserver,
        filters={"from-created-date": "2024-01-01", "type": "journal-article"},
        mailto="lab@example.org",
        max_results=20,
    )
    pages = list(crossref.pages())
    assert [len(p.items) for p in pages] == [5, 5, 5, 5] and pages[-1].done
    assert pages[1].checkpoint["seen"] == 10
    assert fake.sleeps == [0.2, 0.2, 0.2]  # 5 requests per second, as the headers said
    first = httpserver.log[0][0]
    assert first.args["filter"] == "from-created-date:2024-01-01,type:journal-article"
    assert (first.args["cursor"], first.args["mailto"], first.args["rows"]) == (
        "*",
        "lab@example.org",
        "5",
    )
    assert httpserver.log[1][0].args["cursor"].startswith("DnF1ZXJ5VGhlbkZldGNo")


def test_journal_sync_resumes_from_its_checkpoint_and_imports_once(httpserver, engine):
    serve_chain(httpserver, "/journals/2167-8359/works")
    crossref, _ = source(httpserver, issn="2167-8359", max_results=20)
    key = checkpoint_key_for("crossref", {"issn": "2167-8359"})
    report = Ingest(engine).source(crossref, checkpoint_key=key, progress=False)
    assert (report.records, report.error_count, report.result.added) == (19, 1, 19)


def test_dois_one_request_each_and_an_unknown_doi_is_reported(httpserver):
    body = (DATA / "work_10.1109_icdcsw.2003.1203662.json").read_bytes()
    httpserver.expect_request("/works/10.1109/icdcsw.2003.1203662").respond_with_data(body)
    httpserver.expect_request("/works/10.1371/notarealdoi").respond_with_data(
        (DATA / "work_404.txt").read_bytes(), status=404
    )
    crossref, _ = source(httpserver, dois=["https://doi.org/10.1109/ICDCSW.2003.1203662",
                                           "doi:10.1371/notarealdoi"])  # fmt: skip
    items = [i for p in crossref.pages() for i in p.items]
    assert items[0].id == "doi:10.1109/icdcsw.2003.1203662"
    assert isinstance(items[1], RecordError)
    assert str(items[1]) == "crossref: record 2 (10.1371/notarealdoi): Crossref has no such DOI"


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("validation_failure_400.json", 400, "Filter 'has-full-text' specified but there is no"),
        ("cursor_invalid_404.json", 404, "HTTP 404"),
    ],
)
def test_crossref_errors_are_source_errors_with_its_reason(httpserver, name, status, message):
    httpserver.expect_request("/works").respond_with_data((DATA / name).read_bytes(), status=status)
    crossref, _ = source(httpserver, filters={"has-full-text": "true"})
    with pytest.raises(SourceError, match=message):
        list(crossref.pages())


def test_rate_limit_headers_give_the_interval():
    import httpx

    assert rate_interval(httpx.Headers(LIMITS)) == 0.2
    assert (
        rate_interval(httpx.Headers({"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Interval": "1m"}))
        == 1.2
    )
    assert rate_interval(httpx.Headers({"X-Rate-Limit-Limit": "0"})) is None


def test_saved_responses_are_detected_and_reimport_adds_nothing(engine):
    assert detect_format(PAGES[0]) == "crossref"
    ingest = Ingest(engine)
    reports = [ingest.items(read_file(p), progress=False) for p in PAGES]
    assert sum(r.result.added for r in reports) == 19
    assert sum(r.error_count for r in reports) == 1
    again = [ingest.items(read_file(p), progress=False) for p in PAGES]
    assert sum(r.result.added + r.result.updated for r in again) == 0
