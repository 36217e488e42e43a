"""Hugging Face daily papers: live API on loopback and the real saved shapes (data/sources/hf)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperroute.sources.base import RecordError, SourceError
from paperroute.sources.files import read_file
from paperroute.sources.hf_daily import HfDailySource, parse_daily_response
from paperroute.store.merge import record_fields
from paperroute.store.papers import get_paper, upsert_records
from test_sources_http import fake_client

DATA = Path(__file__).parent / "data" / "sources" / "hf"
FETCHED = datetime(2026, 8, 22, 9, 0, tzinfo=UTC)


def live(httpserver, dates=(), **options) -> HfDailySource:
    client, _ = fake_client("hf-daily")
    return HfDailySource(
        dates, base_url=httpserver.url_for("/"), client=client, now=lambda: FETCHED, **options
    )


def test_live_day_brings_paper_fields_upvotes_code_and_keywords(httpserver):
    httpserver.expect_request(
        "/api/daily_papers", query_string={"date": "2026-08-21"}
    ).respond_with_data((DATA / "2026-08-21.json").read_bytes(), content_type="application/json")
    [page] = list(live(httpserver, [date(2026, 8, 21)]).pages())
    assert page.done and len(page.items) == 3
    paper = page.items[0]
    assert paper.id == "2608.19880" and paper.title.startswith("EnvHarness")
    assert paper.upvotes == 163 and paper.observed_at == FETCHED
    assert paper.announced == date(2026, 8, 21)
    assert paper.published == datetime(2026, 8, 20, tzinfo=UTC)
    assert paper.code_url == "https://github.com/google-research/envharness"
    assert paper.github_stars == 8
    assert paper.project_url == "https://envharness.com/"
    assert "LLM agents" in paper.keywords
    assert paper.abs_url == "https://arxiv.org/abs/2608.19880"
    assert paper.pdf_url == "https://arxiv.org/pdf/2608.19880"
    assert len(paper.authors) == 17 and paper.authors[0].name
    assert paper.submitter is None


def test_ai_summary_and_organisation_are_kept_and_stored(engine):
    records = parse_daily_response((DATA / "2026-08-21.json").read_text())
    upsert_records(engine, records)
    paper = get_paper(engine, "2608.19880")
    assert paper.organization == "Google"
    assert paper.ai_summary.startswith("EnvHarness and EnvRigger dynamically reshape")
    # the organisation's name is collapsed to one line, like every other name
    assert get_paper(engine, "2608.18580").organization == (
        "university of science and technology of china"
    )


def test_no_submitter_profile_or_avatar_reaches_a_record():
    raw = (DATA / "2026-08-21.json").read_text()
    assert "avatarUrl" in raw and "submittedOnDailyBy" in raw  # they are in the response
    for record in parse_daily_response(raw):
        stored = json.dumps(record_fields(record))
        assert "avatar" not in stored and "/avatars/" not in stored
        assert "fullname" not in stored


def test_since_fetches_each_date_and_resumes_after_the_last_stored_day(httpserver):
    for day in ("2024-05-27", "2024-05-28", "2024-05-29"):
        body = (DATA / "2024-05-27.json").read_bytes() if day == "2024-05-27" else b"[]"
        httpserver.expect_request(
            "/api/daily_papers", query_string={"date": day}
        ).respond_with_data(body, content_type="application/json")
    source = live(httpserver, since=date(2024, 5, 27), until=date(2024, 5, 29))
    pages = list(source.pages())
    assert [len(p.items) for p in pages] == [3, 0, 0]  # weekend days are empty, not errors
    assert [p.checkpoint for p in pages] == [{"date": "2024-05-27"}, {"date": "2024-05-28"}, None]
    httpserver.clear_log()
    resumed = list(source.pages(checkpoint={"date": "2024-05-28"}))
    assert len(resumed) == 1 and resumed[0].done
    assert [dict(r.args) for r, _ in httpserver.log] == [{"date": "2024-05-29"}]


def test_since_defaults_to_today(httpserver):
    source = live(httpserver, since=date(2026, 8, 20))
    assert source.dates == [date(2026, 8, 20), date(2026, 8, 21), date(2026, 8, 22)]


def test_http_error_is_a_source_error(httpserver):
    httpserver.expect_request("/api/daily_papers").respond_with_json({"error": "nope"}, status=404)
    with pytest.raises(SourceError, match="hf-daily: HTTP 404"):
        list(live(httpserver, [date(2026, 8, 21)]).pages())


@pytest.mark.parametrize(
    ("name", "first_id"),
    [
        ("2024-05-27.json", "2405.15738"),  # a plain list
        ("2024-12-11.json", "2412.07730"),  # a list of Python-repr strings
        ("2025-01-10.json", "2501.05441"),  # {status, date, count, data: [repr strings]}
    ],
)
def test_saved_response_shapes_all_read(name, first_id):
    items = list(read_file(DATA / name))
    assert len(items) == 3 and not any(isinstance(i, RecordError) for i in items)
    day = date.fromisoformat(name.removesuffix(".json"))
    assert items[0].id == first_id
    assert all(r.announced == day for r in items)
    assert all(r.observed_at == datetime(day.year, day.month, day.day, tzinfo=UTC) for r in items)
    assert all(r.upvotes and r.abstract and r.authors for r in items)


def test_python_repr_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    evil = [f"__import__('os').system('touch {marker}')", "{'paper': {'id': '2412.07730'"]
    path = tmp_path / "2024-12-12.json"
    path.write_text(json.dumps(evil))
    items = list(read_file(path))
    assert [type(i) for i in items] == [RecordError, RecordError]
    assert items[0].reason.startswith("invalid Python literal")
    assert items[0].record == 1 and items[1].record == 2
    assert not marker.exists()


def test_archive_lines_keep_the_newest_upvote_snapshot(engine):
    items = list(read_file(DATA / "daily_papers_archive_sample.jsonl.gz"))
    assert len(items) == 5 and len({r.id for r in items}) == 4
    upsert_records(engine, items)
    paper = get_paper(engine, "2606.11176")
    assert paper.hf_upvotes == 82  # seen 2026-06-10 with 29, 2026-06-16 with 82
    assert paper.github_stars == 34
    assert paper.announced == date(2026, 6, 10)  # first day on HF daily
    assert paper.code_url == "https://github.com/QinghongLin/data2story-skill"
    again = upsert_records(engine, list(read_file(DATA / "daily_papers_archive_sample.jsonl.gz")))
    assert not again.changed_any
