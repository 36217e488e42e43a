"""Enrichment as scheduled jobs, against recorded real responses on loopback: Semantic Scholar
citation counts and identifiers in one batch POST (the recorded batch reply, null for a paper it
does not know), Crossref's published version by DOI, each value kept with its source; a sweep
goes on from its cursor and skips papers that already have the values."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from factories import paper_record
from paperroute.jobs.sources import sync_sources_job
from paperroute.services import Services
from paperroute.store.papers import count_papers, get_paper, upsert_records
from paperroute.store.sources import enrichment_targets

DATA = Path(__file__).parent / "data" / "sources"
BATCH = DATA / "semantic_scholar" / "batch_return_not_found.json"  # [null, 10670, 2185, 0 cites]
WORK = DATA / "crossref" / "work_10.1109_icdcsw.2003.1203662.json"

ANNOUNCED = date(2024, 1, 3)  # the day after PUBLISHED: an arXiv preprint's announcement


def only(settings, **enabled):
    flags = {
        "enrich_citations": False, "enrich_published": False, "enrich_code": False,
        "sync_hf_daily": False,
    }  # fmt: skip
    return settings.model_copy(update={**flags, **enabled, "source_host_delay": 0.0})


def test_semantic_scholar_batch_fills_citations_with_provenance_and_moves_on(
    settings, engine, httpserver
):
    ids = ["2401.00001", "2401.00002", "2401.00003", "2401.00004", "2401.00005"]
    upsert_records(engine, [paper_record(pid, announced=ANNOUNCED, version=1) for pid in ids])
    httpserver.expect_oneshot_request("/graph/v1/paper/batch", method="POST").respond_with_data(
        BATCH.read_bytes(), content_type="application/json"
    )
    settings = only(
        settings, enrich_citations=True, enrich_batch=4, semantic_scholar_delay=0.0,
        semantic_scholar_url=httpserver.url_for(""),
    )  # fmt: skip
    note = sync_sources_job(Services.for_worker(settings, engine))
    assert "semantic-scholar: ok 3 records" in note and "1 rejected" in note
    request = httpserver.log[0][0]
    assert json.loads(request.data) == {"ids": [f"ARXIV:{pid}" for pid in ids[:4]]}
    assert "citationCount" in request.args["fields"] and "tldr" in request.args["fields"]
    first, second = get_paper(engine, ids[1]), get_paper(engine, ids[2])
    assert (first.citation_count, first.citations_source) == (10670, "semantic_scholar")
    assert second.citation_count == 2185 and get_paper(engine, ids[3]).citation_count == 0
    assert get_paper(engine, ids[0]).citation_count is None  # S2 answered null for it
    assert first.identifiers["doi"] == "10.2139/ssrn.288970"  # S2's identifiers joined the paper
    assert first.identifiers["s2"] == "c31c87c591a25c64fbaa82e8ac6a81831b6ac7ce"
    from paperroute.jobs.sources import source_overview

    row = next(r for r in source_overview(settings, engine) if r["name"] == "semantic-scholar")
    assert (row["papers"], row["status"]) == (3, "ok")
    # the cursor moved past the 4 asked: the next run asks only about the fifth
    assert [t["id"] for t in enrichment_targets(engine, "citations", "2401.00004")] == [ids[4]]


def test_crossref_published_version_joins_the_arxiv_paper_by_its_doi(settings, engine, httpserver):
    doi = "10.1109/icdcsw.2003.1203662"
    upsert_records(
        engine,
        [
            paper_record(
                "2401.00009", announced=ANNOUNCED, version=1, doi="10.1109/ICDCSW.2003.1203662"
            )
        ],
    )
    httpserver.expect_request(f"/works/{doi}").respond_with_data(WORK.read_bytes())
    settings = only(
        settings, enrich_published=True, crossref_delay=0.0, crossref_url=httpserver.url_for("")
    )
    note = sync_sources_job(Services.for_worker(settings, engine))
    assert "crossref-published: ok 1 records: 0 papers added, 1 updated" in note
    paper = get_paper(engine, "2401.00009")
    assert count_papers(engine) == 1
    assert (paper.publication_type, paper.pages) == ("proceedings", "877-882")
    assert enrichment_targets(engine, "published") == []  # done: not asked again
    sync_sources_job(Services.for_worker(settings, engine))
    assert len(httpserver.log) == 1


def test_offline_every_enrichment_and_the_hf_sync_fail_fast_with_one_warning_line_each(
    settings, engine, caplog
):
    """No network (hosts that never resolve): each enrichment job and the Hugging Face sync
    gives up at once, the sources overview says why in one line, and the log holds one warning
    per source and no traceback."""
    import logging
    import time

    from paperroute.jobs.sources import source_overview

    upsert_records(engine, [paper_record("2401.00001", announced=ANNOUNCED, doi="10.1000/xyz123")])
    offline = {
        "semantic_scholar_url": "http://api.semanticscholar.invalid",
        "crossref_url": "http://api.crossref.invalid",
        "pwc_url": "http://paperswithcode.invalid/api/v1",
        "hf_api_url": "http://huggingface.invalid",
    }
    settings = only(
        settings, enrich_citations=True, enrich_published=True, enrich_code=True,
        sync_hf_daily=True, **offline,
    )  # fmt: skip
    services = Services.for_worker(settings, engine)
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    note = sync_sources_job(services)
    assert time.monotonic() - started < 10  # no backoff rounds (5 retries wait 31 s a source)
    assert "hf-daily: error" in note and "cannot resolve huggingface.invalid" in note
    rows = {r["name"]: r for r in source_overview(settings, engine)}
    for name in ("hf-daily", "semantic-scholar", "crossref-published", "pwc"):
        assert rows[name]["status"] == "error", rows[name]
        assert "cannot resolve" in rows[name]["message"] and "\n" not in rows[name]["message"]
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in warned)
    assert len(warned) == 4, [r.getMessage() for r in warned]
    assert all("cannot resolve" in r.getMessage() for r in warned)
