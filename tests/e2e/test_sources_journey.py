"""Issue 14 in a real browser: a venue page with its tracks (the real ACL 2024 volume excerpts),
a paper that is both an arXiv preprint and its published version with a citation count (the real
Semantic Scholar batch reply and Crossref work served on loopback to the enrichment job), and an
admin adding a journal feed by URL (the recorded AJPH feed on loopback) that the worker then reads
on its own schedule."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from paperroute.config import load_settings
from paperroute.jobs.sources import sync_sources_job
from paperroute.models import Author, PaperRecord
from paperroute.services import Services
from paperroute.sources.files import read_file
from paperroute.sources.ingest import Ingest
from paperroute.store.engine import make_engine, migrate
from paperroute.store.papers import upsert_records
from paperroute.store.users import add_user
from webtools import LiveServer, browser_sign_in, free_port, make_app

DATA = Path(__file__).parent.parent / "data" / "sources"
IMPORTS = [
    DATA / "merge" / "arxiv_cs_overlap.jsonl",  # arXiv preprints of 8 ACL 2024 papers
    DATA / "merge" / "hf_daily_overlap.jsonl",
    DATA / "merge" / "2024.acl_overlap.xml",  # 7 of them merge (tests/test_sources_merge_arxiv.py)
    DATA / "acl" / "2024.acl_long3_short2.xml",
]
BATCH = DATA / "semantic_scholar" / "batch_return_not_found.json"  # [null, 10670, 2185, 0 cites]
WORK = DATA / "crossref" / "work_10.1109_icdcsw.2003.1203662.json"
FEED = DATA / "journal" / "ajph_atypon_2015.xml"
DOI = "10.1109/icdcsw.2003.1203662"
# A made-up arXiv id (as in tests/test_jobs_enrich.py) whose DOI is the recorded Crossref work;
# it sorts second among the papers the citation job asks about (the reply's 10670), and Crossref's
# newer count replaces that.
PREPRINT = "2406.03000"
CARDS = ".paper-list article.paper-card"


def only(settings, **enabled):
    flags = {"enrich_citations": False, "enrich_published": False, "enrich_code": False,
             "sync_hf_daily": False}  # fmt: skip
    return settings.model_copy(update={**flags, **enabled, "source_host_delay": 0.0})


@pytest.fixture(scope="module")
def recorded():
    server = HTTPServer(host="127.0.0.1", port=free_port())
    server.start()
    server.expect_request("/graph/v1/paper/batch", method="POST").respond_with_data(
        BATCH.read_bytes(), content_type="application/json"
    )
    server.expect_request(f"/works/{DOI}").respond_with_data(WORK.read_bytes())
    server.expect_request("/ajph/feed").respond_with_data(FEED.read_bytes())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sources_site(tmp_path_factory, recorded):
    data = tmp_path_factory.mktemp("e2e-sources")
    port = free_port()
    settings = load_settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'paperroute.db'}",
        load_demo=False,
        base_url=f"http://127.0.0.1:{port}",
        semantic_scholar_url=recorded.url_for(""),
        semantic_scholar_delay=0.0,
        crossref_url=recorded.url_for(""),
        crossref_delay=0.0,
        enrich_batch=4,
    )
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    ingest = Ingest(engine)
    for path in IMPORTS:
        ingest.items(read_file(path), progress=False)
    preprint = PaperRecord(
        source="arxiv-api", id=PREPRINT, title="Timing in distributed workshops",
        abstract="About timing.", authors=[Author("Ada Lovelace")], categories=["cs.DC"],
        version=1, published=datetime(2024, 6, 2, tzinfo=UTC), announced=date(2024, 6, 3),
        doi=DOI.upper(),
    )  # fmt: skip
    upsert_records(engine, [preprint])
    sync_sources_job(
        Services.for_worker(only(settings, enrich_citations=True, enrich_published=True), engine)
    )
    with LiveServer(make_app(settings, engine), port=port) as live:
        live.engine = engine
        live.settings = settings
        yield live
    engine.dispose()


def test_a_venue_page_lists_its_papers_by_track(sources_site, page):
    page.goto(sources_site.url + "/venues")
    page.click(".venue-list a:text('ACL 2024')")
    assert page.url.endswith("/venues/ACL/2024")
    assert page.locator("h1").inner_text() == "ACL 2024"
    assert page.locator(CARDS).count() == 13
    tracks = page.locator(".tracks a.track").all_inner_texts()
    assert [" ".join(t.split()) for t in tracks] == ["demos 1", "long 6", "short 4", "srw 2"]
    page.click(".tracks a.track:has-text('short')")
    assert page.locator("h1").inner_text() == "ACL 2024 (short)"
    assert page.locator(CARDS).count() == 4
    assert page.locator("link[type='application/atom+xml']").get_attribute("href") == (
        "/feeds/venues/ACL/2024.atom"
    )
    # a merged paper's card is the arXiv preprint, linked to its venue, with its citations
    card = page.locator(f"{CARDS}[data-paper-id='2406.06263']")
    assert card.locator("a.venue").get_attribute("href") == "/venues/ACL/2024"
    assert card.locator(".citations").text_content() == "0 citations"


def test_a_merged_paper_shows_both_versions_the_doi_and_its_citations(sources_site, page):
    page.goto(sources_site.url + "/papers/acl/2024.acl-demos.27")  # the ACL id of a merged paper
    assert page.url.endswith("/papers/2406.04523")
    published = page.locator(".published-version")
    assert re.search(r"Published in ACL, 2024 \(demos\)", published.inner_text())
    assert page.locator(".citation-count").inner_text() == "2185"
    preprint = page.locator(".preprint-versions a")  # the arXiv record carries no version list
    assert preprint.get_attribute("href") == "https://arxiv.org/abs/2406.04523"

    page.goto(sources_site.url + f"/papers/{PREPRINT}")  # arXiv preprint + Crossref version
    published = page.locator(".published-version")
    assert "Published in" in published.inner_text() and ", 2003" in published.inner_text()
    link = page.locator("a.doi-link")
    assert link.get_attribute("href") == f"https://doi.org/{DOI}"
    # Crossref's is-referenced-by-count, observed after Semantic Scholar's 10670, is the one shown
    citations = page.locator("p.citations").inner_text()
    assert citations.startswith("4 citations") and "Crossref" in citations, citations
    assert "arXiv v1" in page.locator(".preprint-versions").inner_text()


def test_an_admin_adds_a_journal_feed_the_worker_reads_on_its_schedule(
    sources_site, recorded, page
):
    add_user(sources_site.engine, "sources-admin@example.org", is_admin=True)
    browser_sign_in(sources_site, page, "sources-admin@example.org")
    page.goto(sources_site.url + "/admin/sources")
    url = recorded.url_for("/ajph/feed")
    page.fill("form.add-feed input[name=url]", url)
    page.click("form.add-feed button[type=submit]")
    row = page.locator("tr.source", has_text=url)
    assert row.count() == 1
    assert "every 6 h" in row.locator(".schedule").inner_text()
    assert row.locator(".last-run").inner_text() == "never"

    sync_sources_job(
        Services.for_worker(only(sources_site.settings), sources_site.engine)
    )  # worker
    page.reload()
    row = page.locator("tr.source", has_text=url)
    assert row.locator(".papers").inner_text() == "20"
    assert row.locator(".status").inner_text().startswith("ok")
    assert row.locator(".last-run").inner_text() != "never"
    page.goto(sources_site.url + "/venues")
    assert page.locator(".venue-list a:text('American Journal of Public Health 2015')").count()


def test_a_member_follows_a_venue_from_its_page_and_sorts_it_by_trending(sources_site, page):
    add_user(sources_site.engine, "venue-reader@example.org")
    browser_sign_in(sources_site, page, "venue-reader@example.org")
    page.goto(sources_site.url + "/venues/ACL/2024")
    page.click(".sorts a:text('trending')")
    assert page.url.endswith("/venues/ACL/2024?sort=trending")
    assert page.locator(".sorts a.current").inner_text() == "trending"
    assert page.locator(CARDS).count() == 13
    page.click(".follow form.follow-form button:text('Follow in my digest')")
    assert "/settings/digest" in page.url
    assert page.locator(".notice.followed code").inner_text() == "venue:ACL"
    assert "venue:ACL" in page.locator("#follow_categories").input_value()
