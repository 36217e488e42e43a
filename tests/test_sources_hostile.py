"""Hostile import files (issue 15, items 14-16): each bad record is rejected by number and id,
its neighbours are kept, memory stays bounded, and every failure is one clear message."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from paperroute.models import InvalidPaperId, PaperRecord, split_arxiv_id
from paperroute.sources.base import RecordError, SourceError
from paperroute.sources.common import MAX_ABSTRACT_CHARS, MAX_TITLE_CHARS
from paperroute.sources.files import detect_format, read_file
from paperroute.sources.jsonl import MAX_LINE_BYTES

DATA = Path(__file__).parent / "data" / "sources"


def _line(pid: str, **fields) -> str:
    return json.dumps({"id": pid, "title": f"Paper {pid}", "hf_upvotes": 1, **fields})


def _write(tmp_path: Path, lines: list[str], name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _split(items) -> tuple[list[PaperRecord], list[RecordError]]:
    items = list(items)
    return [i for i in items if isinstance(i, PaperRecord)], [
        i for i in items if isinstance(i, RecordError)
    ]


@pytest.mark.parametrize(
    "raw",
    ["2501.100000", "2501.10000v2x", "arXiv:2501.100000", "https://arxiv.org/abs/2501.100000",
     "2501.10000 and more", "hep-th/99010011", "2501.10000v99999999"],
)  # fmt: skip
def test_an_id_with_trailing_junk_is_not_read_as_another_paper(raw):
    with pytest.raises(InvalidPaperId, match="not an arXiv id"):
        split_arxiv_id(raw)


def test_id_forms_in_real_use_still_parse():
    assert split_arxiv_id("https://arxiv.org/pdf/2501.10000v2.pdf") == ("2501.10000", 2)
    assert split_arxiv_id("oai:arXiv.org:math.AG/0601001") == ("math.AG/0601001", None)
    assert split_arxiv_id("arXiv preprint arXiv:2401.00001 [cs.CL]") == ("2401.00001", None)


def test_a_longer_id_is_rejected_by_line_and_the_real_paper_is_untouched(tmp_path):
    path = _write(tmp_path, [_line("2501.10000"), _line("2501.100000", title="Overwritten!")])
    records, errors = _split(read_file(path))
    assert [(r.id, r.title) for r in records] == [("2501.10000", "Paper 2501.10000")]
    assert [str(e) for e in errors] == [
        "paperroute: record 2 (2501.100000): not an arXiv id: '2501.100000'"
    ]


WRONG_TYPES = [
    _line("2401.00001", authors=[{"name": "A", "affiliations": 5}]),
    _line("2401.00002", github_stars=10**30),
    _line("2401.00003", hf_upvotes=10**30),
    _line("2401.00004", latest_version=10**30),
    _line("2401.00005", versions=[{"version": 10**30}]),
    _line("2401.00006", categories="cs.CL"),
    _line("2401.00007", keywords=[1, 2]),
    _line("2401.00008", title=["a list"]),
    _line("2401.00009", abstract={"an": "object"}),
    _line("2401.00010", authors=[5]),
    _line("2401.00011", published=5),
    _line("2401.00012", github_stars=-3),
    _line("2401.00013", hf_upvotes=True),
    _line("2401.00014", versions=[{"version": 1, "title": 7}]),
]
OUT_OF_RANGE_DATES = ["9999-12-31T23:59:59-05:00", "Fri, 31 Dec 9999 23:59:59 -0500"]


def test_each_wrong_type_rejects_only_its_own_line(tmp_path):
    good = [_line(f"2402.{n:05d}") for n in range(1, len(WRONG_TYPES) + 1)]
    mixed = [x for pair in zip(good, WRONG_TYPES, strict=True) for x in pair]
    records, errors = _split(read_file(_write(tmp_path, mixed)))
    assert sorted(r.id for r in records) == [f"2402.{n:05d}" for n in range(1, 15)]
    assert [e.record for e in errors] == list(range(2, 29, 2))
    assert [e.record_id for e in errors] == [f"2401.{n:05d}" for n in range(1, 15)]
    assert errors[0].reason == "affiliations is not a list"
    assert "out of range" in errors[1].reason


def test_a_date_past_year_9999_in_utc_rejects_only_its_line(tmp_path):
    lines = [_line("2401.00001", published=d) for d in OUT_OF_RANGE_DATES] + [_line("2401.00002")]
    records, errors = _split(read_file(_write(tmp_path, lines)))
    assert [r.id for r in records] == ["2401.00002"]
    assert [(e.record, e.reason.split(":")[0]) for e in errors] == [
        (1, "published is not a date"),
        (2, "published is not a date"),
    ]


def test_json_nested_200000_deep_is_one_rejected_line(tmp_path):
    deep = '{"id": "2401.99999", "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
    path = _write(tmp_path, [_line("2401.00001"), deep, _line("2401.00002")])
    records, errors = _split(read_file(path, "paperroute"))
    assert [r.id for r in records] == ["2401.00001", "2401.00002"]
    assert [(e.record, e.record_id, e.reason) for e in errors] == [
        (2, "2401.99999", "invalid JSON: nested too deeply")
    ]


def test_title_and_abstract_over_the_limits_are_rejected_by_number_and_id(tmp_path):
    lines = [
        _line("2401.00001", title="t" * (MAX_TITLE_CHARS + 1)),
        _line("2401.00002", abstract="a" * (MAX_ABSTRACT_CHARS + 1)),
        _line("2401.00003", abstract="a" * MAX_ABSTRACT_CHARS),
    ]
    records, errors = _split(read_file(_write(tmp_path, lines)))
    assert [r.id for r in records] == ["2401.00003"]
    assert [str(e) for e in errors] == [
        "paperroute: record 1 (2401.00001): title is 1,001 characters, over the 1,000 limit",
        "paperroute: record 2 (2401.00002): abstract is 20,001 characters, over the 20,000 limit",
    ]


def test_hf_numbers_out_of_range_reject_only_their_entry(tmp_path):
    entries = [
        {"paper": {"id": "2401.00001", "title": "Good", "upvotes": 3}},
        {"paper": {"id": "2401.00002", "title": "Stars", "githubStars": 1e400}},
        {"paper": {"id": "2401.00003", "title": "Votes", "upvotes": 10**30}},
        {"paper": {"id": "2401.00004", "title": "Keywords", "ai_keywords": 5}},
    ]
    path = tmp_path / "2024-01-02.json"
    path.write_text(json.dumps(entries))
    records, errors = _split(read_file(path))
    assert [r.id for r in records] == ["2401.00001"]
    assert [(e.record, e.record_id) for e in errors] == [
        (2, "2401.00002"),
        (3, "2401.00003"),
        (4, "2401.00004"),
    ]


def _traced_peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("terminated", [True, False])
def test_a_line_over_the_limit_is_rejected_without_being_loaded(tmp_path, terminated):
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        fh.write(_line("2401.00001") + "\n")
        fh.write('{"id": "2401.00002", "title": "Big", "abstract": "')
        for _ in range(30):  # 30 MB, three times the limit
            fh.write("x" * (1 << 20))
        if terminated:
            fh.write('"}\n' + _line("2401.00003") + "\n")
    seen: list = []
    peak = _traced_peak(lambda: seen.extend(read_file(path)))
    records, errors = _split(seen)
    assert [r.id for r in records] == (
        ["2401.00001", "2401.00003"] if terminated else ["2401.00001"]
    )
    assert len(errors) == 1 and (errors[0].record, errors[0].record_id) == (2, "2401.00002")
    assert f"over the {MAX_LINE_BYTES:,}-byte limit" in errors[0].reason
    assert peak < 3 * MAX_LINE_BYTES  # the 30 MB line was never held whole


def test_a_first_line_over_64_kb_is_still_recognised(tmp_path):
    authors = [{"name": f"Author Number {n}", "affiliations": ["Somewhere"]} for n in range(3000)]
    path = _write(tmp_path, [_line("2401.00001", authors=authors), _line("2401.00002")])
    assert path.stat().st_size > 100_000
    assert detect_format(path) == "paperroute"
    records, errors = _split(read_file(path))
    assert [len(r.authors) for r in records] == [3000, 0] and not errors


def test_a_small_truncated_jsonl_gzip_keeps_its_complete_lines_then_says_so(tmp_path):
    data = gzip.compress(("\n".join(_line(f"2401.{n:05d}") for n in range(1, 6)) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[:-6])  # most of the gzip trailer is gone
    seen = []
    with pytest.raises(SourceError, match="truncated or corrupt compressed file"):
        seen.extend(read_file(path))
    assert [r.id for r in seen] == [f"2401.{n:05d}" for n in range(1, 6)]


def test_a_truncated_xml_gzip_keeps_the_records_before_the_cut(tmp_path):
    body = (DATA / "oai" / "ListRecords_arXiv_page6.xml").read_bytes()
    data = gzip.compress(body)
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    seen = []
    with pytest.raises(SourceError, match="truncated or corrupt compressed file"):
        seen.extend(read_file(path))
    assert seen and all(isinstance(i, PaperRecord) for i in seen)


def _oai(records: list[str]) -> bytes:
    return (
        '<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2024-01-02T00:00:00Z</responseDate><ListRecords>"
        + "".join(records)
        + "</ListRecords></OAI-PMH>"
    ).encode()


def _oai_record(pid: str, extra: str = "") -> str:
    return (
        f"<record><header><identifier>oai:arXiv.org:{pid}</identifier></header><metadata>"
        f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{pid}</id><title>Paper {pid}</title>'
        f"{extra}</arXiv></metadata></record>"
    )


def test_an_xml_record_with_too_many_elements_ends_the_read_naming_it(tmp_path):
    bomb = _oai_record("2401.00002", "<comments>" + "<b/>" * 200_000 + "</comments>")
    path = tmp_path / "oai.xml.gz"
    path.write_bytes(
        gzip.compress(_oai([_oai_record("2401.00001"), bomb, _oai_record("2401.00003")]))
    )
    seen = []
    with pytest.raises(SourceError, match=r"arxiv-oai: record 2: too large \(over 100,000 elem"):
        seen.extend(read_file(path))
    assert [r.id for r in seen] == ["2401.00001"]


def test_invalid_xml_half_way_names_the_record_and_keeps_the_ones_before(tmp_path):
    path = tmp_path / "oai.xml"
    good = [_oai_record(f"2401.{n:05d}") for n in range(1, 4)]
    path.write_bytes(_oai([*good, "<record><header></oops></record>"]))
    seen = []
    with pytest.raises(SourceError, match=r"arxiv-oai: record 4: invalid XML \(line 1\): .*oops"):
        seen.extend(read_file(path))
    assert [r.id for r in seen] == ["2401.00001", "2401.00002", "2401.00003"]
