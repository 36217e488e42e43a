"""PubMed E-utilities against Biopython's real saved replies on loopback: esearch with history
(esearch2.xml, WebEnv + QueryKey), efetch pages (pubmed1.xml, pubmed2.xml), MathML (pubmed6.xml),
the HTML page an efetch without retmode returns (pubmed3.html) and an esearch error list."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperroute.sources.base import SourceError
from paperroute.sources.files import detect_format, read_file
from paperroute.sources.ingest import Ingest
from paperroute.sources.pubmed import PubMedSource, parse_articles, parse_search
from test_sources_http import fake_client

DATA = Path(__file__).parent / "data" / "sources" / "pubmed"
WEBENV = "MCID_6927d6e7fee3e90f880ec190"


def test_article_gives_doi_key_pmid_pmcid_journal_and_mathml_as_latex():
    [paper] = parse_articles((DATA / "pubmed6.xml").read_bytes())
    assert paper.id == "doi:10.3389/fphys.2018.01034"
    assert paper.identifiers == {
        "doi": "10.3389/fphys.2018.01034",
        "pmid": "30108519",
        "pmcid": "PMC6079548",
    }
    assert (paper.venue, paper.volume, paper.pages, paper.year) == (
        "Frontiers in physiology",
        "9",
        "1034",
        2018,
    )
    assert "maximal oxygen uptake ( $\\overset{.}{V}O_{2max}$ )" in paper.abstract
    assert paper.abs_url == "https://pubmed.ncbi.nlm.nih.gov/30108519/"


def test_article_without_doi_is_keyed_by_pmid():
    first, second = parse_articles((DATA / "pubmed1.xml").read_bytes())
    assert first.id == "pmid:12091962"
    assert first.title == "The treatment of AIDS behind the walls of correctional facilities."
    assert second.id == "doi:10.1016/0005-2795(76)90109-4"


def serve_search(httpserver) -> None:
    httpserver.expect_request("/esearch.fcgi").respond_with_data(
        (DATA / "esearch2.xml").read_bytes()
    )
    for start, name in ((0, "pubmed1.xml"), (2, "pubmed2.xml")):
        httpserver.expect_request("/efetch.fcgi", query_string={
            "db": "pubmed", "tool": "paperroute", "query_key": "1", "WebEnv": WEBENV,
            "retmode": "xml", "retstart": str(start), "retmax": "2",
        }).respond_with_data((DATA / name).read_bytes())  # fmt: skip


def test_search_uses_the_history_server_in_batches_three_requests_a_second(httpserver):
    serve_search(httpserver)
    client, fake = fake_client("pubmed", min_interval=1 / 3)
    source = PubMedSource(
        "cancer", batch=2, max_results=4, base_url=httpserver.url_for(""), client=client
    )
    pages = list(source.pages())
    assert [r.id for p in pages for r in p.items] == [
        "pmid:12091962", "doi:10.1016/0005-2795(76)90109-4",
        "doi:10.1006/cryo.2001.2328", "doi:10.1006/jmre.2001.2429",
    ]  # fmt: skip
    assert pages[0].checkpoint == {
        "count": 42249,
        "webenv": WEBENV,
        "query_key": "1",
        "retstart": 2,
    }
    assert fake.sleeps == [0.333, 0.333]
    assert httpserver.log[0][0].args["usehistory"] == "y"


def test_a_saved_checkpoint_resumes_without_searching_again(httpserver, engine):
    serve_search(httpserver)
    client, _ = fake_client("pubmed")
    source = PubMedSource(
        "cancer", batch=2, max_results=4, base_url=httpserver.url_for(""), client=client
    )
    state = {"count": 42249, "webenv": WEBENV, "query_key": "1", "retstart": 2}
    [page] = list(source.pages(state))
    assert len(page.items) == 2 and page.done
    assert all(req.path == "/efetch.fcgi" for req, _ in httpserver.log)


def test_api_key_allows_ten_requests_a_second():
    source = PubMedSource("x", api_key="secret")
    assert source.client.min_interval == 0.1
    assert PubMedSource("x").client.min_interval == pytest.approx(1 / 3)


def test_html_reply_and_search_error_are_source_errors(httpserver):
    httpserver.expect_request("/esearch.fcgi").respond_with_data(
        b"<?xml version='1.0'?><eSearchResult>"
        b"<ERROR>Invalid db name specified: nothing</ERROR></eSearchResult>"
    )
    httpserver.expect_request("/efetch.fcgi").respond_with_data(
        (DATA / "pubmed3.html").read_bytes()
    )
    client, _ = fake_client("pubmed")
    source = PubMedSource("x", base_url=httpserver.url_for(""), client=client)
    with pytest.raises(SourceError, match="esearch error: Invalid db name"):
        list(source.pages())
    with pytest.raises(SourceError, match="efetch error: '<html><head><title>PmFetch response"):
        list(source.pages({"count": 1, "webenv": "w", "query_key": "1", "retstart": 0}))
    assert parse_search((DATA / "esearch8.xml").read_bytes())["count"] == 0


def test_saved_efetch_imports_once(engine):
    path = DATA / "pubmed2.xml"
    assert detect_format(path) == "pubmed"
    ingest = Ingest(engine)
    first = ingest.items(read_file(path), progress=False)
    again = ingest.items(read_file(path), progress=False)
    assert (first.result.added, again.result.added, again.result.updated) == (2, 0, 0)
