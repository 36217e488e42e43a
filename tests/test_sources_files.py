"""Reading saved files: format detection, the JSON-lines formats, bad lines, export round trip."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperroute.models import PaperRecord
from paperroute.sources.base import RecordError, SourceError
from paperroute.sources.files import FORMATS, detect_format, read_file
from paperroute.sources.jsonl import paper_to_json
from paperroute.store.engine import make_engine, migrate
from paperroute.store.papers import get_paper, iter_papers, upsert_records

DATA = Path(__file__).parent / "data" / "sources"
LISTING = DATA / "jsonl" / "arxiv_listing_sample.jsonl"
SNAPSHOT = DATA / "jsonl" / "arxiv_snapshot_sample.jsonl"


@pytest.mark.parametrize(
    ("name", "fmt", "records"),
    [
        ("jsonl/arxiv_listing_sample.jsonl", "arxiv-listing", 5),
        ("jsonl/arxiv_snapshot_sample.jsonl", "arxiv-snapshot", 3),
        ("hf/daily_papers_archive_sample.jsonl.gz", "hf-daily", 5),
        ("hf/2024-05-27.json", "hf-daily", 3),
        ("hf/2024-12-11.json", "hf-daily", 3),
        ("hf/2025-01-10.json", "hf-daily", 3),
        ("oai/ListRecords_arXiv_page6.xml", "arxiv-oai", 3),
        ("oai/ListRecords_arXivRaw_page6.xml", "arxiv-oai", 3),
        ("api/q_testing_s0_m10.xml", "arxiv-api", 10),
        ("api/legacy2016_id_list_1111.2011v2.xml", "arxiv-api", 1),
        ("rss/rss_math_2011-02-03.xml", "arxiv-rss", 7),
        ("rss/atom_math_2011-02-03.xml", "arxiv-rss", 7),
        ("rss/EMPTY_atom_cs_2023-10-26_no-announcements.xml", "arxiv-rss", 0),
    ],
)
def test_format_is_detected_from_content_and_every_record_reads(name, fmt, records):
    assert detect_format(DATA / name) == fmt
    items = list(read_file(DATA / name))
    assert len(items) == records
    assert all(isinstance(i, PaperRecord) and i.source == fmt for i in items)


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    path = tmp_path / "listing.data"
    path.write_bytes(gzip.compress(LISTING.read_bytes()))
    assert detect_format(path) == "arxiv-listing"
    assert list(read_file(path)) == list(read_file(LISTING))


def test_rereading_a_file_yields_identical_records():
    for path in (LISTING, SNAPSHOT, DATA / "hf" / "daily_papers_archive_sample.jsonl.gz"):
        assert list(read_file(path)) == list(read_file(path))


def test_listing_format_fields():
    records = list(read_file(LISTING))
    first = records[0]
    assert first.id == "2503.11731" and first.version is None
    assert first.categories == ["cs.CV", "cs.RO"] and first.primary_category == "cs.CV"
    assert first.announced == date(2025, 3, 18)
    assert first.observed_at == datetime(2025, 3, 18, tzinfo=UTC)
    assert first.authors[0].name == "Xianming Zeng" and len(first.authors) == 16
    assert first.abs_url == "https://arxiv.org/abs/2503.11731"
    assert records[1].comments == "Work in progress"
    raw = json.loads(LISTING.read_text().splitlines()[-1])
    assert any(c.startswith("I.") for c in raw["categories"])
    assert records[-1].categories == [c for c in raw["categories"] if "." in c and c[0].islower()]


def test_snapshot_format_fields():
    # The snapshot fixture is hand-written from the documented Kaggle format (see data README).
    first, second, old = read_file(SNAPSHOT)
    assert (first.id, first.version) == ("0704.0001", 2)
    assert first.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert first.updated == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert [v.version for v in first.versions] == [1, 2]
    assert [a.name for a in first.authors] == [
        "C. Balázs",
        "E. L. Berger",
        "P. M. Nadolsky",
        "C. -P. Yuan",
    ]
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.submitter == "Pavel Nadolsky"
    assert first.observed_at == datetime(2008, 11, 13, tzinfo=UTC)
    assert second.categories == ["math.CO", "cs.CG"] and second.primary_category == "math.CO"
    assert second.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert old.id == "hep-th/9901001" and old.authors[1].name == "B. Author Jr."


def test_bad_lines_are_reported_with_number_id_and_reason_and_good_lines_kept(tmp_path):
    good = LISTING.read_text().splitlines()
    untitled = json.loads(good[1])
    del untitled["title"]
    lines = [
        good[0],
        '{"id": "2503.99999", "title": "Broken',
        json.dumps(untitled),
        "",
        json.dumps({**json.loads(good[2]), "id": "I.2.7"}),
        "[1, 2]",
        good[3],
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = list(read_file(path))
    assert [i.id for i in items if isinstance(i, PaperRecord)] == ["2503.11731", "2503.11780"]
    errors = [str(i) for i in items if isinstance(i, RecordError)]
    assert errors == [
        "arxiv-listing: record 2 (2503.99999): invalid JSON: Unterminated string starting at "
        "(column 31)",
        "arxiv-listing: record 3 (2503.11742): missing title",
        "arxiv-listing: record 5 (I.2.7): not an arXiv id: 'I.2.7'",
        "arxiv-listing: record 6: expected a JSON object, got list",
    ]


def test_unknown_content_names_the_known_formats(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(SourceError, match="cannot tell which format.*paperroute, arxiv-listing"):
        detect_format(path)
    with pytest.raises(SourceError, match="unknown format 'bogus'; known formats: paperroute"):
        read_file(LISTING, "bogus")
    assert set(FORMATS) == {
        "paperroute",
        "arxiv-listing",
        "arxiv-snapshot",
        "hf-daily",
        "arxiv-oai",
        "arxiv-api",
        "arxiv-rss",
        "acl-anthology",
        "crossref",
        "openalex",
        "pubmed",
        "biorxiv-feed",
        "biorxiv-details",
        "openreview",
        "journal-feed",
    }


def test_missing_and_empty_files_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        read_file(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(SourceError, match="file is empty"):
        read_file(tmp_path / "empty.jsonl")


def test_truncated_gzip_keeps_the_good_records_then_says_so(tmp_path):
    data = gzip.compress((LISTING.read_text() * 20).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    seen = []
    with pytest.raises(SourceError, match="truncated or corrupt"):
        for item in read_file(path):
            seen.append(item)
    assert seen and all(isinstance(i, PaperRecord) for i in seen)


def _build_rich_store(engine) -> None:
    """Papers merged from several sources: versions, affiliations, upvotes, code, announced."""
    for name in (
        "oai/ListRecords_arXivRaw_page1_first3_deleted.xml",
        "oai/ListRecords_arXiv_page1_first3.xml",
        "rss/rss_math_2011-02-03.xml",
        "api/id_astro-ph_0601001_s0_m100.xml",
        "api/legacy2016_id_list_1111.2011v2.xml",
        "hf/daily_papers_archive_sample.jsonl.gz",
        "hf/2026-08-21.json",
        "jsonl/arxiv_snapshot_sample.jsonl",
    ):
        upsert_records(engine, list(read_file(DATA / name)))


def test_export_then_import_round_trips_every_paper_field(engine, tmp_path):
    _build_rich_store(engine)
    original = list(iter_papers(engine))
    exported = tmp_path / "export.jsonl"
    with exported.open("w") as fh:
        for paper in original:
            fh.write(json.dumps(paper_to_json(paper, datetime(2026, 9, 1, tzinfo=UTC))) + "\n")
    assert detect_format(exported) == "paperroute"

    second = make_engine(f"sqlite:///{tmp_path / 'second.db'}")
    migrate(second)
    upsert_records(second, list(read_file(exported)))
    assert list(iter_papers(second)) == original

    rich = get_paper(engine, "0704.0248")  # arXiv + arXivRaw + RSS records merged
    assert rich.latest_version == 2 and rich.announced == date(2011, 2, 3)
    assert rich.submitter == "Ricardo Weder" and [v.size for v in rich.versions] == ["12kb"] * 2
    assert get_paper(engine, "2606.11176").hf_upvotes == 82
    hf = get_paper(second, "2608.19880")  # the HF-only fields survive the round trip
    assert hf.organization == "Google" and hf.ai_summary.startswith("EnvHarness")

    again = upsert_records(second, list(read_file(exported)))
    assert not again.changed_any  # importing the same export twice changes nothing
    second.dispose()
