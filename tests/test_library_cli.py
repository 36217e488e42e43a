"""`paperroute library import/export` on SQLite and PostgreSQL (offline: no arXiv fetching)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from paperroute.cli import app
from paperroute.store.users import add_user
from test_library_import import LIBRARY, _seed


def _run(database_url: str, tmp_path: Path, *args: str):
    base = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    return CliRunner().invoke(app, [*base, *args], catch_exceptions=False)


def test_library_import_reports_bad_entries_and_export_gives_the_papers_back(
    engine, database_url, tmp_path
):
    _seed(engine)
    add_user(engine, "reader@example.org")
    bib = tmp_path / "zotero.bib"
    bib.write_text(LIBRARY)
    result = _run(database_url, tmp_path, "library", "import", "reader@example.org", str(bib),
                  "--offline")  # fmt: skip
    assert result.exit_code == 0
    assert "zotero.bib: line 12: unbalanced braces" in result.stderr
    assert "3 matched (3 newly saved, 0 fetched from arXiv), 2 not found" in result.stderr
    exported = _run(database_url, tmp_path, "library", "export", "reader@example.org",
                    "--format", "csl-json")  # fmt: skip
    assert sorted(i["number"] for i in json.loads(exported.stdout)) == [
        "1512.03385", "1706.03762", "2010.11929"
    ]  # fmt: skip
    account = _run(database_url, tmp_path, "library", "export", "reader@example.org",
                   "--format", "account")  # fmt: skip
    assert json.loads(account.stdout)["collections"][0]["name"] == "Imported"


def test_a_missing_file_is_a_clear_error(engine, database_url, tmp_path):
    add_user(engine, "reader@example.org")
    result = _run(database_url, tmp_path, "library", "import", "reader@example.org",
                  str(tmp_path / "nope.bib"))  # fmt: skip
    assert result.exit_code == 2
    assert "nope.bib" in result.stderr and "No such file" in result.stderr


def test_recommend_prints_papers_with_the_saved_paper_they_are_near(engine, database_url, tmp_path):
    from paperroute.store import collections as coll

    _seed(engine)
    user = add_user(engine, "reader@example.org")
    shelf = coll.create_collection(engine, user.id, "Vision")
    coll.add_paper(engine, user.id, shelf.id, "1512.03385")
    assert _run(database_url, tmp_path, "embed", "--quiet").exit_code == 0  # the real model
    result = _run(database_url, tmp_path, "recommend", "reader@example.org", "--window", "month")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines][0] == "2010.11929"  # ViT: the other vision paper
    assert all("near 1512.03385" in line for line in lines)
    bad = _run(database_url, tmp_path, "recommend", "reader@example.org", "--window", "year")
    assert bad.exit_code == 2 and "--window must be one of" in bad.stderr
