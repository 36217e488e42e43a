"""`paperroute import / export / papers show / stats` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from paperroute.cli import app
from paperroute.sources.demo import demo_corpus_path
from paperroute.store.engine import make_engine
from paperroute.store.schema import papers

DEMO_PAPERS = 3010


def _run(database_url: str, tmp_path: Path, *args: str):
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    return runner.invoke(app, [*base, *args], catch_exceptions=False)


def _count(database_url: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(papers)).scalar_one()
    engine.dispose()
    return n


def test_importing_the_demo_corpus_twice_adds_nothing(database_url, tmp_path):
    first = _run(database_url, tmp_path, "import", "-q", str(demo_corpus_path()))
    second = _run(database_url, tmp_path, "import", "-q", str(demo_corpus_path()))
    assert first.exit_code == 0 and second.exit_code == 0
    assert f"{DEMO_PAPERS} papers added" in first.stderr
    assert "0 papers added, 0 updated" in second.stderr
    assert _count(database_url) == DEMO_PAPERS


def test_export_then_import_round_trips_losslessly(database_url, tmp_path):
    _run(database_url, tmp_path, "import", "-q", str(demo_corpus_path()))
    exported = tmp_path / "export.jsonl.gz"
    assert _run(database_url, tmp_path, "export", "--out", str(exported)).exit_code == 0
    other = tmp_path / "other"
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    result = _run(other_url, other, "import", "-q", str(exported))
    assert result.exit_code == 0, result.stderr
    again = _run(other_url, other, "export")
    with gzip.open(exported, "rt") as fh:
        original = fh.read()
    assert again.stdout == original
    assert len(original.splitlines()) == DEMO_PAPERS


def test_bad_records_are_reported_by_number_and_good_ones_kept(database_url, tmp_path):
    with gzip.open(demo_corpus_path(), "rt") as fh:
        good = [next(fh) for _ in range(3)]
    broken = json.loads(good[1])
    del broken["paper"]["title"]
    del broken["title"]  # the entry repeats the title outside `paper`
    lines = [good[0], "{not json\n", json.dumps(broken) + "\n", good[2]]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(lines))
    result = _run(database_url, tmp_path, "import", "-q", "--format", "hf-daily", str(path))
    assert result.exit_code == 0
    assert "record 2" in result.stderr and "record 3" in result.stderr
    assert "2 papers added" in result.stderr
    assert _count(database_url) == 2


def test_a_file_with_nothing_importable_exits_non_zero(database_url, tmp_path):
    path = tmp_path / "junk.jsonl"
    path.write_text('{"paper": {"id": "2401.00001"}}\n{"paper": {"id": "not-an-id"}}\n')
    result = _run(database_url, tmp_path, "import", "-q", "--format", "hf-daily", str(path))
    assert result.exit_code == 1
    assert "nothing could be imported" in result.stderr
    assert _count(database_url) == 0


def test_papers_show_json_prints_the_merged_paper(database_url, tmp_path):
    _run(database_url, tmp_path, "import", "-q", str(demo_corpus_path()))
    with gzip.open(demo_corpus_path(), "rt") as fh:
        entry = json.loads(next(fh))
    result = _run(database_url, tmp_path, "papers", "show", entry["paper"]["id"], "--json")
    shown = json.loads(result.stdout)
    assert shown["id"] == entry["paper"]["id"]
    assert shown["authors"][0]["name"] == entry["paper"]["authors"][0]["name"]
    missing = _run(database_url, tmp_path, "papers", "show", "2101.00001")
    assert missing.exit_code == 1 and "not in the store" in missing.stderr


def test_sigkill_half_way_then_rerun_equals_an_uninterrupted_import(database_url, tmp_path):
    data_dir = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "paperroute.cli",
        "--data-dir",
        str(data_dir),
        "--database-url",
        database_url,
        "import",
        "-q",
        "--batch-size",
        "25",
        str(demo_corpus_path()),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            seen = _count(database_url)
        except Exception:  # schema not created yet
            seen = 0
        if seen >= 100:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < seen < DEMO_PAPERS, "the import was not caught half-way"
    assert _count(database_url) < DEMO_PAPERS
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    killed_export = _run(database_url, data_dir, "export").stdout
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    _run(clean_url, tmp_path / "clean", "import", "-q", str(demo_corpus_path()))
    assert killed_export == _run(clean_url, tmp_path / "clean", "export").stdout


def test_an_import_tells_the_followers_of_a_new_papers_author(database_url, tmp_path):
    from datetime import UTC, datetime, timedelta

    from paperroute.store import notifications as notify_store
    from paperroute.store.engine import migrate
    from paperroute.store.subscriptions import follow_author
    from paperroute.store.users import add_user

    with gzip.open(demo_corpus_path(), "rt") as f:
        line = json.loads(f.readline())
    now = datetime.now(UTC)
    rows = []
    for pid, when in (("2612.00001", now - timedelta(days=1)), ("2001.00001", now.replace(2020))):
        row = json.loads(json.dumps(line))
        stamp = when.isoformat().replace("+00:00", "Z")
        row["paper"].update(id=pid, authors=[{"name": "Grace Hopper"}], publishedAt=stamp,
                            submittedOnDailyAt=stamp)  # fmt: skip
        row.update(publishedAt=stamp, _archive_date=when.date().isoformat())
        rows.append(json.dumps(row))
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(rows) + "\n")
    engine = make_engine(database_url)
    migrate(engine)
    grace = add_user(engine, "grace@example.org")
    follow_author(engine, grace.id, grace.email, "grace hopper")
    result = _run(database_url, tmp_path, "import", "-q", str(path))
    assert result.exit_code == 0 and "2 papers added" in result.stderr, result.stderr
    found = notify_store.list_notifications(engine, grace.id)
    assert [(n.kind, n.paper_id) for n in found] == [("followed_author", "2612.00001")]
    engine.dispose()
