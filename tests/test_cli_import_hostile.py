"""`paperroute import` of hostile files (issue 15, items 14 and 16): a clear line per problem, good
records stored, exit codes a script can trust; on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from paperroute.cli import app
from paperroute.sources.demo import demo_corpus_path
from paperroute.store.engine import make_engine
from paperroute.store.schema import papers
from test_sources_hostile import WRONG_TYPES, _line

DATA = Path(__file__).parent / "data" / "sources"


def _run(database_url: str, data_dir: Path, *args: str):
    base = ["--data-dir", str(data_dir), "--database-url", database_url]
    return CliRunner().invoke(app, [*base, *args], catch_exceptions=False)


def _titles(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(papers.c.id, papers.c.title)).all())
    engine.dispose()
    return rows


def test_fourteen_wrong_types_reject_fourteen_lines_and_import_the_rest(database_url, tmp_path):
    good = [_line(f"2402.{n:05d}") for n in range(1, len(WRONG_TYPES) + 1)]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(x for p in zip(good, WRONG_TYPES, strict=True) for x in p) + "\n")
    result = _run(database_url, tmp_path / "data", "import", "-q", str(path))
    assert result.exit_code == 0, result.stderr
    assert "28 records" not in result.stderr and "14 papers added" in result.stderr
    assert "14 rejected" in result.stderr
    assert "rejected paperroute: record 4 (2401.00002): github_stars" in result.stderr
    assert sorted(_titles(database_url)) == [f"2402.{n:05d}" for n in range(1, 15)]


def test_an_id_with_a_sixth_digit_does_not_overwrite_the_paper_it_starts_with(
    database_url, tmp_path
):
    first = tmp_path / "first.jsonl"
    first.write_text(_line("2501.10000", title="The real title") + "\n")
    attack = tmp_path / "attack.jsonl"
    attack.write_text(_line("2501.100000", title="Overwritten!") + "\n")
    assert _run(database_url, tmp_path / "data", "import", "-q", str(first)).exit_code == 0
    result = _run(database_url, tmp_path / "data", "import", "-q", str(attack))
    assert result.exit_code == 1
    assert "record 1 (2501.100000): not an arXiv id" in result.stderr
    assert _titles(database_url) == {"2501.10000": "The real title"}


def test_a_truncated_xml_gzip_says_so_and_keeps_the_records_before_the_cut(database_url, tmp_path):
    records = (DATA / "oai" / "ListRecords_arXiv_page6.xml").read_text()
    head, rest = records.split("<record>", 1)
    many = head + ("<record>" + rest.split("</ListRecords>")[0]) * 200 + "</ListRecords></OAI-PMH>"
    data = gzip.compress(many.encode())
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(data[: len(data) // 2])
    result = _run(database_url, tmp_path / "data", "import", "-q", str(path))
    assert result.exit_code == 1
    assert "truncated or corrupt compressed file" in result.stderr
    assert "Aborted" not in result.stderr + result.stdout
    assert len(_titles(database_url)) == 3  # page 6's three papers, stored before the cut


@pytest.fixture
def tiny_disk(tmp_path) -> Path:
    """A 1 MB tmpfs (needs root): writing past it fails with ENOSPC, as a full disk does."""
    mount = shutil.which("mount")
    point = tmp_path / "tiny"
    point.mkdir()
    if os.geteuid() != 0 or not mount:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)], check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_full_disk_is_one_clear_line_not_a_traceback(tiny_disk):
    url = f"sqlite:///{tiny_disk / 'paperroute.db'}"
    result = _run(url, tiny_disk / "data", "import", "-q", str(demo_corpus_path()))
    assert result.exit_code == 1
    assert "disk full: cannot write to" in result.stderr
    assert "free some space and run the import again" in result.stderr


def test_json_nested_200000_deep_keeps_its_neighbours(database_url, tmp_path):
    deep = '{"id": "2401.99999", "hf_upvotes": ' + "[" * 200_000 + "]" * 200_000 + "}"
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([_line("2401.00001"), deep, _line("2401.00002")]) + "\n")
    result = _run(database_url, tmp_path / "data", "import", "-q", str(path))
    assert result.exit_code == 0, result.stderr
    assert "record 2 (2401.99999): invalid JSON: nested too deeply" in result.stderr
    assert sorted(_titles(database_url)) == ["2401.00001", "2401.00002"]
