"""Sources in the product: `paperroute sync <source>`, `paperroute sources`, the worker's
schedule (a due source runs under its own lease, a paused one never), against recorded real
responses served on a loopback HTTP server, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperroute.cli import app
from paperroute.jobs.sources import sync_sources_job
from paperroute.services import Services
from paperroute.store.engine import make_engine
from paperroute.store.papers import count_papers
from paperroute.store.sources import add_journal_feed, set_paused

DATA = Path(__file__).parent / "data" / "sources"
CROSSREF_PAGES = [DATA / "crossref" / f"members98_cursor_page{i}.json" for i in range(4)]
FEED = (DATA / "journal" / "ajph_atypon_2015.xml").read_bytes()  # 20 AJPH articles
PLANTS = (DATA / "biorxiv" / "plant_biology_2019.rdf").read_bytes()  # 30 bioRxiv preprints
NO_WAITS = {
    "PAPERROUTE_CROSSREF_DELAY": "0",
    "PAPERROUTE_OPENALEX_DELAY": "0",
    "PAPERROUTE_BIORXIV_DELAY": "0",
    "PAPERROUTE_SOURCE_HOST_DELAY": "0",
    "PAPERROUTE_LOAD_DEMO": "false",
}
# Tested on their own: the enrichment sources and the Hugging Face daily papers
NO_ENRICHMENT = {"enrich_citations": False, "enrich_published": False, "sync_hf_daily": False}


@pytest.fixture
def cli(tmp_path, database_url, monkeypatch):
    for name, value in NO_WAITS.items():
        monkeypatch.setenv(name, value)
    base = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]

    def invoke(*args: str):
        return CliRunner().invoke(app, [*base, *args], catch_exceptions=False)

    return invoke


def _overview(cli) -> dict[str, dict]:
    listed = cli("sources", "--json")
    assert listed.exit_code == 0, listed.output
    return {row["name"]: row for row in json.loads(listed.stdout)}


def test_sync_crossref_acl_feed_and_biorxiv_then_sources_counts_them(
    cli, httpserver, monkeypatch, database_url
):
    for page in CROSSREF_PAGES:
        httpserver.expect_oneshot_request("/works").respond_with_data(
            page.read_bytes(), content_type="application/json"
        )
    httpserver.expect_request("/acl/2024.acl.xml").respond_with_data(
        (DATA / "acl" / "2024.acl_long3_short2.xml").read_bytes()
    )
    httpserver.expect_request("/feed").respond_with_data(FEED, content_type="application/rdf+xml")
    httpserver.expect_request("/plants").respond_with_data(PLANTS)
    monkeypatch.setenv("PAPERROUTE_CROSSREF_URL", httpserver.url_for(""))
    monkeypatch.setenv("PAPERROUTE_ACL_ANTHOLOGY_URL", httpserver.url_for("/acl"))

    crossref = cli("sync", "crossref", "--filter", "type:journal-article", "--max", "20")
    assert crossref.exit_code == 0, crossref.output
    assert "crossref: 19 records: 19 papers added" in crossref.stderr
    assert "record 5 (10.1002/humu.2018.39.issue-6): missing title" in crossref.stderr
    assert httpserver.log[0][0].args["filter"] == "type:journal-article"

    acl = cli("sync", "acl-anthology", "2024.acl", "--no-bibtex")
    assert acl.exit_code == 0 and "5 papers added" in acl.stderr, acl.output

    feed = cli("sync", "journal-feed", httpserver.url_for("/feed"))
    assert feed.exit_code == 0 and "20 papers added" in feed.stderr, feed.output
    monkeypatch.setenv("PAPERROUTE_BIORXIV_FEED_URL", httpserver.url_for("/plants") + "?{subject}")
    plants = cli("sync", "biorxiv", "--subject", "plant_biology")
    assert plants.exit_code == 0 and "biorxiv: 30 records: 30 papers added" in plants.stderr
    engine = make_engine(database_url)
    assert count_papers(engine) == 74

    again = cli("sync", "journal-feed", httpserver.url_for("/feed"))
    assert "0 papers added, 0 updated, 20 unchanged" in again.stderr
    rows = _overview(cli)
    assert (rows["crossref"]["papers"], rows["acl-anthology"]["papers"]) == (19, 5)
    assert rows["biorxiv"]["papers"] == 30
    assert rows["pubmed"]["status"] == "not configured" and rows["pubmed"]["next_run"] is None
    table = cli("sources")
    assert "not configured (set pubmed_term)" in table.stdout
    engine.dispose()


def test_a_bad_argument_or_an_unreachable_source_is_a_message_not_a_traceback(cli, monkeypatch):
    bad = cli("sync", "crossref", "--filter", "type")
    assert bad.exit_code == 2 and "'type' is not key:value" in bad.output
    both = cli("sync", "crossref", "--issn", "1234-5678", "--doi", "10.1/x")
    assert both.exit_code == 2 and "one of them" in both.output
    assert cli("sync", "biorxiv").exit_code == 2
    monkeypatch.setenv("PAPERROUTE_HTTP_RETRIES", "0")
    monkeypatch.setenv("PAPERROUTE_PUBMED_URL", "http://127.0.0.1:9/eutils")
    down = cli("sync", "pubmed", "crispr")
    assert down.exit_code == 1 and "unreachable" in down.stderr
    assert "Traceback" not in down.output
    assert cli("sources", "pause", "no-such-source").exit_code == 2


def test_worker_runs_a_due_source_once_per_interval_and_skips_a_paused_one(
    settings, engine, httpserver
):
    httpserver.expect_request("/plants").respond_with_data(PLANTS)
    httpserver.expect_request("/feed").respond_with_data(FEED)
    settings = settings.model_copy(
        update={"biorxiv_subjects": ["plant_biology"], "source_host_delay": 0.0, **NO_ENRICHMENT,
                "biorxiv_delay": 0.0,
                "biorxiv_feed_url": httpserver.url_for("/plants") + "?s={server}&subject={subject}"}
    )  # fmt: skip
    feed, _ = add_journal_feed(engine, httpserver.url_for("/feed"))
    set_paused(engine, feed["name"], True)
    note = sync_sources_job(Services.for_worker(settings, engine))
    assert "biorxiv: ok 30 records: 30 papers added" in note
    assert feed["name"] not in note and count_papers(engine) == 30
    assert [r.path for r, _ in httpserver.log] == ["/plants"]
    assert httpserver.log[0][0].args["subject"] == "plant_biology"

    assert (
        sync_sources_job(Services.for_worker(settings, engine)) == "no source due"
    )  # hourly: not due again
    set_paused(engine, feed["name"], False)
    assert "20 papers added" in sync_sources_job(Services.for_worker(settings, engine))
    assert count_papers(engine) == 50
    from paperroute.jobs.sources import source_overview

    rows = {r["name"]: r for r in source_overview(settings, engine)}
    assert rows["biorxiv"]["status"] == "ok" and rows["biorxiv"]["papers"] == 30
    assert rows["biorxiv"]["next_run"] > rows["biorxiv"]["last_run"]
    assert rows[feed["name"]]["papers"] == 20 and rows[feed["name"]]["url"].endswith("/feed")


def test_a_failing_source_is_recorded_and_the_others_still_run(settings, engine, httpserver):
    httpserver.expect_request("/feed").respond_with_data(FEED)
    httpserver.expect_request("/gone").respond_with_data("no such feed", status=404)
    settings = settings.model_copy(update={"source_host_delay": 0.0, **NO_ENRICHMENT})
    gone, _ = add_journal_feed(engine, httpserver.url_for("/gone"))
    add_journal_feed(engine, httpserver.url_for("/feed"))
    note = sync_sources_job(Services.for_worker(settings, engine))
    assert f"{gone['name']}: error" in note and "HTTP 404" in note
    assert count_papers(engine) == 20
    from paperroute.jobs.sources import source_overview

    row = next(r for r in source_overview(settings, engine) if r["name"] == gone["name"])
    assert row["status"] == "error" and "HTTP 404" in row["message"]


def test_add_feed_from_the_cli_then_run_it_as_the_worker_would(cli, httpserver):
    httpserver.expect_request("/feed").respond_with_data(FEED)
    url = httpserver.url_for("/feed")
    added = cli("sources", "add-feed", url)
    assert added.exit_code == 0 and "added" in added.stderr
    assert "already added" in cli("sources", "add-feed", url).stderr
    assert cli("sources", "add-feed", "ftp://x/feed").exit_code == 2
    ran = cli("sources", "run", url)
    assert ran.exit_code == 0 and "20 papers added" in ran.stderr, ran.output
    row = next(r for r in _overview(cli).values() if r["url"] == url)
    assert (row["status"], row["papers"]) == ("ok", 20)
    assert cli("sources", "pause", url).exit_code == 0
    assert next(r for r in _overview(cli).values() if r["url"] == url)["paused"]
    assert cli("sources", "remove-feed", url).exit_code == 0
    assert all(r["url"] != url for r in _overview(cli).values())


class _Counting:
    """A source of two pages of numbered checkpoints (ChainSource's parts)."""

    def __init__(self, name: str) -> None:
        self.name, self.asked = name, []

    def pages(self, checkpoint=None):
        from paperroute.sources.base import Page

        self.asked.append(checkpoint)
        start = (checkpoint or {}).get("n", 0)
        for n in range(start, 2):
            yield Page(items=[], checkpoint={"n": n + 1}, done=n == 1)


def test_a_chain_of_sources_resumes_inside_the_part_it_stopped_in():
    from paperroute.jobs.sources import ChainSource

    first, second = _Counting("a"), _Counting("b")
    pages = list(ChainSource("x", [first, second]).pages())
    assert [p.checkpoint for p in pages] == [
        {"part": 0, "inner": {"n": 1}}, {"part": 1, "inner": None},
        {"part": 1, "inner": {"n": 1}}, None,
    ]  # fmt: skip
    assert [p.done for p in pages] == [False, False, False, True]
    again = _Counting("a2"), _Counting("b2")
    resumed = list(ChainSource("x", again).pages({"part": 1, "inner": {"n": 1}}))
    assert again[0].asked == [] and again[1].asked == [{"n": 1}] and len(resumed) == 1


def test_python_dash_m_paperroute_cli_knows_the_sources_commands(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    cmd = [sys.executable, "-m", "paperroute.cli", "--data-dir", str(tmp_path), "sources", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "acl-anthology" in {row["name"] for row in json.loads(done.stdout)}


HF_DAY = DATA / "hf" / "2026-08-21.json"  # a recorded /api/daily_papers reply: 3 papers


def test_the_hugging_face_daily_sync_is_a_source_run_listed_and_paused_like_the_others(
    cli, httpserver, monkeypatch
):
    httpserver.expect_request("/api/daily_papers").respond_with_data(
        HF_DAY.read_bytes(), content_type="application/json"
    )
    monkeypatch.setenv("PAPERROUTE_HF_API_URL", httpserver.url_for("/").rstrip("/"))
    before = _overview(cli)["hf-daily"]
    assert before["configured"] and before["status"] == "never run" and before["papers"] == 0

    run = cli("sources", "run", "hf-daily")
    assert run.exit_code == 0, run.output
    assert "hf-daily: 6 records: 3 papers added" in run.output  # one reply served for both days
    assert [r.args["date"] for r, _ in httpserver.log] == sorted(
        r.args["date"] for r, _ in httpserver.log
    ) and len(httpserver.log) == 2  # yesterday and today
    row = _overview(cli)["hf-daily"]
    assert row["status"] == "ok" and row["papers"] == 3
    assert row["next_run"] > row["last_run"] and "3 papers added" in row["message"]
    table = cli("sources")
    assert "hf-daily" in table.stdout and "Traceback" not in table.output

    assert cli("sources", "pause", "hf-daily").exit_code == 0
    assert _overview(cli)["hf-daily"]["paused"]
    assert cli("sources", "resume", "hf-daily").exit_code == 0
    assert not _overview(cli)["hf-daily"]["paused"]
    monkeypatch.setenv("PAPERROUTE_SYNC_HF_DAILY", "false")
    off = _overview(cli)["hf-daily"]
    assert not off["configured"] and off["next_run"] is None
    assert "not configured (set sync_hf_daily)" in cli("sources").stdout
