"""`paperroute embed / search / similar / reindex` as a user runs them, on both backends."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from paperroute.cli import app
from search_support import load_fixture


def _run(settings, *args):
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.sqlalchemy_url]
    return CliRunner().invoke(app, [*base, *args])


def test_search_json_lists_id_title_score(settings, engine):
    load_fixture(engine)
    result = _run(settings, "search", "MemOS memory operating system", "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 3 and rows[0]["id"] == "2507.03724"
    assert {"id", "title", "score"} <= set(rows[0])


def test_similar_prints_neighbours_but_not_the_paper(settings, engine):
    load_fixture(engine)
    result = _run(settings, "similar", "2507.03724", "--limit", "4", "--json")
    assert result.exit_code == 0, result.output
    ids = [r["id"] for r in json.loads(result.stdout)]
    assert len(ids) == 4 and "2507.03724" not in ids


def test_similar_unknown_paper_fails_with_a_message(settings, engine):
    result = _run(settings, "similar", "2101.00001")
    assert result.exit_code == 1 and "No paper found" in result.output


def test_embed_then_reindex_report_counts(settings, engine):
    load_fixture(engine)
    result = _run(settings, "embed", "--quiet")
    assert result.exit_code == 0 and "embedded 0 papers" in result.output  # all precomputed
    result = _run(settings, "reindex", "--quiet")
    assert result.exit_code == 0 and "indexed 300 papers and 300 vectors" in result.output


def test_bad_query_on_the_command_line_is_a_message_not_a_traceback(settings, engine):
    load_fixture(engine)
    result = _run(settings, "search", '"')
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "Type some words" in result.output
