"""arXiv OAI-PMH harvester against recorded responses on loopback (tests/data/sources/oai)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperroute.models import PaperRecord
from paperroute.sources.arxiv_oai import ArxivOAISource, parse_oai_response
from paperroute.sources.base import RecordError, SourceError
from test_sources_http import fake_client

DATA = Path(__file__).parent / "data" / "sources" / "oai"
PARAMS = {"verb": "ListRecords", "metadataPrefix": "arXiv", "from": "2011-02-03"}


def body(name: str) -> bytes:
    return (DATA / name).read_bytes()


def token_of(name: str) -> str:
    return re.search(r"<resumptionToken[^>]*>([^<]+)<", body(name).decode()).group(1)


PAGE1, PAGE2, PAGE3 = (
    "ListRecords_arXiv_page1_first3.xml",
    "ListRecords_arXiv_page2_first3.xml",
    "ListRecords_arXiv_page6.xml",
)


@pytest.fixture
def oai_chain(httpserver):
    """Three pages chained by the real resumption tokens; returns the endpoint URL."""
    httpserver.expect_request("/oai", query_string=PARAMS).respond_with_data(body(PAGE1))
    for previous, page in ((PAGE1, PAGE2), (PAGE2, PAGE3)):
        query = {"verb": "ListRecords", "resumptionToken": token_of(previous)}
        httpserver.expect_request("/oai", query_string=query).respond_with_data(body(page))
    return httpserver.url_for("/oai")


def harvester(url: str, **options) -> ArxivOAISource:
    client, _ = fake_client("arxiv-oai")
    return ArxivOAISource(base_url=url, from_date="2011-02-03", client=client, **options)


def test_harvest_follows_resumption_tokens_to_the_last_page(oai_chain):
    pages = list(harvester(oai_chain).pages())
    assert len(pages) == 3
    ids = [r.id for p in pages for r in p.items]
    assert ids[:3] == ["cs/0001024", "0704.0248", "chao-dyn/9510015"]
    assert len(ids) == 9 and len(set(ids)) == 9
    assert pages[0].checkpoint == {"token": token_of(PAGE1), "params": PARAMS}
    assert not pages[0].done and pages[-1].done and pages[-1].checkpoint is None


def test_arxiv_format_fields(oai_chain):
    records = {r.id: r for p in harvester(oai_chain).pages() for r in p.items}
    first = records["cs/0001024"]
    assert first.title.startswith("A Parallel Algorithm for Dilated Contour Extraction")
    assert [a.name for a in first.authors] == ["B. R. Schlei", "L. Prasad"]
    assert first.categories == ["cs.CV"] and first.primary_category == "cs.CV"
    assert first.comments.startswith("5 pages, including 3 figures")
    assert first.published == datetime(2000, 1, 25, tzinfo=UTC)
    assert first.updated == datetime(2009, 11, 30, tzinfo=UTC)
    published = records["1102.0435"]
    assert published.doi == "10.1007/s10801-010-0268-y"
    assert published.journal_ref == "J. Algebr. Comb. 34 (2011) 213-236"
    assert published.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert published.categories == ["math.AG", "math.CO"]
    assert published.abs_url == "https://arxiv.org/abs/1102.0435"


def test_interrupted_harvest_resumes_with_the_saved_token(oai_chain, httpserver):
    first = next(iter(harvester(oai_chain).pages()))  # stored, then the process dies
    httpserver.clear_log()
    resumed = list(harvester(oai_chain).pages(checkpoint=first.checkpoint))
    assert [r.id for r in resumed[0].items] == [r.id for r in parse_oai_response(body(PAGE2)).items]
    sent = [dict(req.args) for req, _ in httpserver.log]
    assert sent[0] == {"verb": "ListRecords", "resumptionToken": token_of(PAGE1)}
    assert len(resumed) == 2 and resumed[-1].done
    all_ids = [r.id for p in [first, *resumed] for r in p.items]
    assert len(set(all_ids)) == 9  # nothing missed, nothing fetched twice


def test_checkpoint_of_another_harvest_is_ignored(oai_chain, httpserver):
    stale = {"token": "whatever", "params": {**PARAMS, "set": "math"}}
    pages = list(harvester(oai_chain).pages(checkpoint=stale))
    assert len(pages) == 3
    assert dict(httpserver.log[0][0].args) == PARAMS


def test_real_503_retry_after_reply_is_honoured_then_the_harvest_succeeds(httpserver):
    recording = json.loads((DATA / "paperhive_listrecords_503_then_200.json").read_text())
    busy, ok = recording
    headers = dict(zip(busy["rawHeaders"][::2], busy["rawHeaders"][1::2], strict=True))
    query = {"verb": "ListRecords", "metadataPrefix": "arXiv", "from": "2015-01-01"}
    query["until"] = "2015-01-03"
    httpserver.expect_oneshot_request("/oai2", query_string=query).respond_with_data(
        busy["response"], status=503, headers={"Retry-After": headers["Retry-After"]}
    )
    httpserver.expect_oneshot_request("/oai2", query_string=query).respond_with_data(ok["response"])
    client, fake = fake_client("arxiv-oai")
    source = ArxivOAISource(
        base_url=httpserver.url_for("/oai2"),
        from_date="2015-01-01",
        until_date="2015-01-03",
        client=client,
    )
    records = [r for p in source.pages() for r in p.items]
    assert fake.sleeps == [10.0]  # "Retry after 10 seconds"
    paper = next(r for r in records if r.id == "1412.8544")
    assert [(a.name, a.affiliations) for a in paper.authors] == [
        ("Sander Uijlen", ["Radboud Universiteit"]),
        ("Bas Westerbaan", ["Radboud Universiteit"]),
    ]
    assert paper.doi == "10.4204/EPTCS.172.11"


def test_arxiv_raw_brings_every_version_and_the_submitter_and_skips_deleted_records(httpserver):
    name = "ListRecords_arXivRaw_page1_first3_deleted.xml"
    httpserver.expect_request("/oai").respond_with_data(body(name))
    client, _ = fake_client("arxiv-oai")
    source = ArxivOAISource(
        base_url=httpserver.url_for("/oai"), metadata_prefix="arXivRaw", client=client
    )
    page = next(iter(source.pages()))
    assert [r.id for r in page.items] == ["0704.0248", "chao-dyn/9510015"]
    assert source.deleted == 1
    paper = page.items[0]
    assert paper.version == 2 and paper.submitter == "Ricardo Weder"
    assert [(v.version, v.size) for v in paper.versions] == [(1, "12kb"), (2, "12kb")]
    assert paper.versions[0].submitted == datetime(2007, 4, 2, 17, 42, tzinfo=UTC)


def test_no_records_match_is_an_empty_harvest_not_an_error(httpserver):
    httpserver.expect_request("/oai").respond_with_data(body("error_noRecordsMatch.xml"))
    client, _ = fake_client("arxiv-oai")
    pages = list(ArxivOAISource(base_url=httpserver.url_for("/oai"), client=client).pages())
    assert len(pages) == 1 and pages[0].items == [] and pages[0].done


def test_expired_token_is_an_error_naming_the_oai_code(httpserver):
    httpserver.expect_request("/oai").respond_with_data(body("error_badResumptionToken.xml"))
    client, _ = fake_client("arxiv-oai")
    source = ArxivOAISource(base_url=httpserver.url_for("/oai"), client=client)
    checkpoint = {"token": "expired", "params": source.params}
    with pytest.raises(SourceError, match="arxiv-oai: OAI-PMH error badResumptionToken"):
        list(source.pages(checkpoint))


def test_unsupported_metadata_prefix_is_refused():
    with pytest.raises(SourceError, match="unsupported metadataPrefix 'oai_dc'"):
        ArxivOAISource(metadata_prefix="oai_dc")


def test_a_record_without_title_is_reported_and_the_others_kept():
    # Edited in memory: the first record's <title> removed.
    text = re.sub(r"<title>[^<]*</title>", "", body(PAGE1).decode(), count=1)
    items = parse_oai_response(text.encode()).items
    error = items[0]
    assert isinstance(error, RecordError)
    assert str(error) == "arxiv-oai: record 1 (oai:arXiv.org:cs/0001024): missing <title>"
    assert all(isinstance(r, PaperRecord) for r in items[1:])


def test_html_instead_of_xml_is_a_clear_error():
    with pytest.raises(SourceError, match="arxiv-oai: not an OAI-PMH response .*Retry after 10"):
        parse_oai_response(b"<html><body><h1>Retry after 10 seconds</h1>")
    with pytest.raises(SourceError, match="arxiv-oai: response is not valid XML .*Retry after"):
        parse_oai_response(b"Retry after 10 seconds")
