"""Hostile library files (issue 15, items 13 and 14): UTF-16 BibTeX, deeply nested and wrongly
typed CSL-JSON. Each gives entries or errors naming the line and field, never a traceback
(CLI) or a 500 (web)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factories import record
from paperroute.cli import app
from paperroute.references.formats import decode, parse_library
from paperroute.store.papers import upsert_records
from paperroute.store.users import add_user
from webtools import DAY1, client_for, csrf_from, finished_import, make_app, sign_in, texts

PID = "2606.00100"  # seeded in the web test, so nothing is fetched from arXiv
BIB = f"@article{{a, title = {{A seeded paper}}, eprint = {{{PID}}}}}\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_bibtex_in_any_unicode_encoding_gives_its_entries(encoding):
    parsed = parse_library(decode(BIB.encode(encoding)), filename="lib.bib")
    assert [(e.key, e.arxiv_id) for e in parsed.entries] == [("a", PID)]


DEEP = "[" * 200_000 + "]" * 200_000
WRONG = [
    {"id": "ok", "title": "Fine", "URL": f"https://arxiv.org/abs/{PID}"},
    {"id": "t", "title": 5},
    {"id": "d", "title": "x", "DOI": ["10.1/x"]},
    {"id": "a", "title": "x", "author": "Ada Lovelace"},
    {"id": "a2", "title": "x", "author": [5]},
    {"id": "i", "title": "x", "issued": {"date-parts": 2017}},
    {"id": "u", "title": "x", "URL": {"href": "x"}},
    {"id": ["odd"], "title": "x"},
    {"id": 7, "title": "Numbered id", "issued": {"date-parts": [["2017"]]}},
]
WRONG_TEXT = "[\n" + ",\n".join(json.dumps(i) for i in WRONG) + "\n]"  # item n on line n + 1


def test_wrongly_typed_csl_json_names_each_bad_field_and_keeps_the_good_items():
    parsed = parse_library(WRONG_TEXT)
    assert [(e.key, e.year) for e in parsed.entries] == [("ok", None), ("7", "2017")]
    assert [str(e) for e in parsed.errors] == [
        "line 3 (t): field 'title' must be text, not a number",
        "line 4 (d): field 'DOI' must be text, not a list",
        "line 5 (a): field 'author' must be a list of names, not str",
        "line 6 (a2): author 1 must be an object, not a number",
        "line 7 (i): field 'issued.date-parts' must be a list of [year, month, day] lists",
        "line 8 (u): field 'URL' must be text, not an object",
        "line 9: field 'id' must be text, not a list",
    ]


def test_csl_json_nested_200000_deep_is_one_error_and_the_next_item_is_kept():
    text = '[{"id": "deep", "note": ' + DEEP + '},\n {"id": "ok", "title": "Kept"}]'
    parsed = parse_library(text, filename="lib.json")
    assert [e.key for e in parsed.entries] == ["ok"]
    assert [str(e) for e in parsed.errors] == ["line 1: invalid JSON: nested too deeply"]


def _cli(database_url: str, tmp_path: Path, *args: str):
    base = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    return CliRunner().invoke(app, [*base, *args], catch_exceptions=False)


@pytest.mark.parametrize("content", [DEEP, WRONG_TEXT])
def test_cli_library_import_of_hostile_csl_json_is_a_report_not_a_traceback(
    engine, database_url, tmp_path, content
):
    add_user(engine, "reader@example.org")
    path = tmp_path / "lib.json"
    path.write_text(content)
    result = _cli(
        database_url, tmp_path, "library", "import", "reader@example.org", str(path), "--offline"
    )
    assert result.exit_code == 0, result.stderr
    assert "lib.json: line 1" in result.stderr or "lib.json: line 3 (t)" in result.stderr


def test_web_library_import_of_hostile_files_answers_with_the_errors(settings, engine):
    upsert_records(engine, [record(PID, DAY1, 1)])
    client = client_for(make_app(settings, engine))
    sign_in(client, engine, "reader@example.org")
    csrf = csrf_from(client.get("/for-you"))
    expected = {
        "deep.json": ("0 matched", ["line 1: invalid JSON: nested too deeply"]),
        "wrong.json": ("1 matched", ["line 3 (t): field 'title' must be text, not a number"]),
        "utf16.bib": ("1 matched", []),
    }
    uploads = [DEEP.encode(), WRONG_TEXT.encode(), BIB.encode("utf-16")]
    for (name, (summary, first_errors)), data in zip(expected.items(), uploads, strict=True):
        started = client.post(
            "/for-you/import",
            data={"csrf_token": csrf, "collection": "Mine"},
            files={"library": (name, data, "application/octet-stream")},
        )
        status, page = finished_import(client, started)
        assert status == "done" and page.status_code == 200, (name, status)
        assert summary in texts(page, ".import-summary")[0], name
        assert texts(page, ".import-errors li")[: len(first_errors)] == first_errors, name
