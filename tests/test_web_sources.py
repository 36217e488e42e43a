"""/admin/sources: every source with its runs and counts, pause/resume, and a journal feed added
by URL, which the worker then reads on its own schedule (recorded AJPH feed on loopback)."""

from __future__ import annotations

from pathlib import Path

from paperroute.jobs.sources import sync_sources_job
from paperroute.services import Services
from paperroute.store.papers import count_papers
from paperroute.store.sources import journal_feeds, paused_sources
from webtools import client_for, doc, make_app, page_csrf, sign_in, texts

FEED = Path(__file__).parent / "data" / "sources" / "journal" / "ajph_atypon_2015.xml"


def test_admins_only(settings, engine):
    client = client_for(make_app(settings, engine))
    assert client.get("/admin/sources").status_code == 403
    sign_in(client, engine, "reader@example.org")
    assert client.get("/admin/sources").status_code == 403


def test_admin_adds_a_feed_the_worker_reads_then_pauses_and_resumes_it(
    settings, engine, httpserver
):
    httpserver.expect_request("/ajph/feed").respond_with_data(FEED.read_bytes())
    url = httpserver.url_for("/ajph/feed")
    client = client_for(make_app(settings, engine))
    sign_in(client, engine, "boss@example.org", admin=True)
    page = client.get("/admin/sources")
    names = [e.get("data-source") for e in doc(page).cssselect("tr.source")]
    assert names[:3] == ["hf-daily", "acl-anthology", "crossref"]
    assert "not configured (set crossref_issns)" in texts(page, 'tr[data-source="crossref"]')[0]

    csrf = page_csrf(client, "/admin/sources")
    bad = client.post(
        "/admin/sources/feeds", data={"url": "javascript:alert(1)", "csrf_token": csrf}
    )
    assert bad.status_code == 200 and "not an http(s) URL" in texts(bad, ".error")[0]
    added = client.post("/admin/sources/feeds", data={"url": url, "csrf_token": csrf})
    assert added.status_code == 303
    [feed] = journal_feeds(engine)

    quick = settings.model_copy(
        update={
            "source_host_delay": 0.0,
            "enrich_citations": False,
            "enrich_published": False,
            "sync_hf_daily": False,
        }  # fmt: skip
    )
    note = sync_sources_job(Services.for_worker(quick, engine))
    assert f"{feed['name']}: ok 20 records: 20 papers added" in note
    assert count_papers(engine) == 20
    page = client.get("/admin/sources")
    row = f'tr[data-source="{feed["name"]}"]'
    assert texts(page, f"{row} .papers") == ["20"]
    assert texts(page, f"{row} .status")[0].startswith("ok")
    assert url in texts(page, row)[0]

    client.post("/admin/sources/pause", data={"name": feed["name"], "csrf_token": csrf})
    assert paused_sources(engine) == {feed["name"]}
    assert texts(client.get("/admin/sources"), f"{row} .next-run") == ["paused"]
    client.post("/admin/sources/pause", data={"name": url, "paused": "0", "csrf_token": csrf})
    assert paused_sources(engine) == set()
    missing = client.post("/admin/sources/pause", data={"name": "nope", "csrf_token": csrf})
    assert missing.status_code == 404
    client.post("/admin/sources/feeds/remove", data={"name": feed["name"], "csrf_token": csrf})
    assert journal_feeds(engine) == [] and count_papers(engine) == 20


def test_the_hugging_face_daily_sync_has_its_row_on_the_sources_page(settings, engine, httpserver):
    day = Path(__file__).parent / "data" / "sources" / "hf" / "2026-08-21.json"
    httpserver.expect_request("/api/daily_papers").respond_with_data(
        day.read_bytes(), content_type="application/json"
    )
    hf_only = settings.model_copy(
        update={"hf_api_url": httpserver.url_for("/").rstrip("/"), "source_host_delay": 0.0,
                "enrich_citations": False, "enrich_published": False}
    )  # fmt: skip
    assert sync_sources_job(Services.for_worker(hf_only, engine)).startswith("hf-daily: ok")
    client = client_for(make_app(settings, engine))
    sign_in(client, engine, "boss@example.org", admin=True)
    page = client.get("/admin/sources")
    row = 'tr[data-source="hf-daily"]'
    assert texts(page, f"{row} .papers") == ["3"]
    assert texts(page, f"{row} .status")[0].startswith("ok")
