"""Parsing BibTeX, RIS and CSL-JSON library files: good entries kept, bad ones named by line."""

from __future__ import annotations

import json

import pytest

from factories import paper
from paperroute.models import Author, Paper
from paperroute.references.export import export_papers
from paperroute.references.formats import (
    MAX_BYTES,
    LibraryFileError,
    decode,
    detect_format,
    find_arxiv_id,
    parse_library,
)

BIBTEX = """% Zotero-style export
@article{vaswani2017,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  year = {2017},
  eprint = {1706.03762},
  archivePrefix = {arXiv},
}

@article{broken,
  title = {An {unclosed brace,
  year = {2020}

@inproceedings{he2016,
  title = {Deep Residual Learning for Image Recognition},
  author = {He, Kaiming},
  doi = {10.1109/CVPR.2016.90},
  year = {2016}
}

@misc{nokey
  title = {No comma after the key}
}

@misc{viaurl,
  title = {Something},
  url = {https://arxiv.org/abs/2401.01234v2},
}

@misc{empty, year = {2020}}
"""


def test_bibtex_keeps_good_entries_and_names_each_bad_one_by_line():
    parsed = parse_library(BIBTEX, filename="my.bib")
    assert parsed.format == "bibtex"
    keys = {e.key: e for e in parsed.entries}
    assert keys["vaswani2017"].arxiv_id == "1706.03762"
    assert keys["vaswani2017"].authors == ["Vaswani, Ashish", "Shazeer, Noam"]
    assert keys["he2016"].doi == "10.1109/cvpr.2016.90"
    assert keys["viaurl"].arxiv_id == "2401.01234"
    messages = [str(e) for e in parsed.errors]
    assert any(m.startswith("line 10") for m in messages), messages
    assert any(m.startswith("line 21") and "comma" in m for m in messages), messages
    assert any("line 30 (empty)" in m and "no title" in m for m in messages), messages


RIS = """TY  - JOUR
TI  - Attention Is All You Need
AU  - Vaswani, Ashish
PY  - 2017
UR  - https://arxiv.org/abs/1706.03762
ER  -

stray text between records

TY  - JOUR
TI  - Deep Residual Learning for Image Recognition
DO  - https://doi.org/10.1109/CVPR.2016.90
ER  -

TY  - JOUR
TI  - Never closed
"""


def test_ris_reports_stray_lines_and_unclosed_records():
    parsed = parse_library(RIS, filename="export.ris")
    assert parsed.format == "ris"
    assert [e.arxiv_id for e in parsed.entries] == ["1706.03762", None]
    assert parsed.entries[1].doi == "10.1109/cvpr.2016.90"
    assert [str(e) for e in parsed.errors] == [
        "line 8: line outside a record (no 'TY  -' before it)",
        "line 15: record has no 'ER  -' end line",
    ]


CSL = """[
  {"id": "a", "type": "article", "title": "Attention Is All You Need",
   "URL": "https://arxiv.org/abs/1706.03762", "author": [{"family": "Vaswani", "given": "Ashish"}],
   "issued": {"date-parts": [[2017, 6, 12]]}},
  {"id": "b", "title": "Broken" "missing comma"},
  {"id": "c", "type": "paper-conference", "title": "Deep Residual Learning",
   "DOI": "10.1109/CVPR.2016.90"},
  "just a string"
]"""


def test_csl_json_skips_a_syntax_error_and_keeps_reading():
    parsed = parse_library(CSL, filename="lib.json")
    assert [e.key for e in parsed.entries] == ["a", "c"]
    assert parsed.entries[0].authors == ["Ashish Vaswani"]
    assert parsed.entries[0].year == "2017"
    lines = [(e.line, e.reason.split(":")[0]) for e in parsed.errors]
    assert lines == [(5, "invalid JSON"), (8, "item is a str, not an object")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1706.03762", "1706.03762"),
        ("arXiv:1706.03762v5", "1706.03762"),
        ("https://arxiv.org/pdf/2401.01234v2.pdf", "2401.01234"),
        ("10.48550/arXiv.2401.01234", "2401.01234"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("https://doi.org/10.1109/CVPR.2016.90", None),
        ("Proceedings of CVPR 2016", None),
    ],
)
def test_arxiv_ids_are_found_in_the_fields_reference_managers_use(text, expected):
    assert find_arxiv_id(text) == expected


def test_a_file_over_50_mb_is_refused_with_a_clear_message():
    with pytest.raises(LibraryFileError, match="over the 50 MB limit"):
        decode(b" " * (MAX_BYTES + 1))


def test_unknown_content_is_refused_naming_the_formats():
    with pytest.raises(LibraryFileError, match="not BibTeX, RIS or CSL-JSON"):
        detect_format("hello world", "notes.md")


def _paper(pid: str, title: str) -> Paper:
    """A paper with BibTeX-hostile braces and ampersands, a DOI on every other id."""
    return paper(
        pid,
        title=title,
        abstract="We use {braces} and } stray ones & ampersands.",
        authors=[Author("Ada Lovelace"), Author("Grace Brewster Hopper")],
        doi="10.1000/xyz" if pid.endswith("1") else None,
    )


@pytest.mark.parametrize("fmt", ["bibtex", "ris", "csl-json"])
def test_export_then_parse_gives_back_every_paper(fmt):
    papers = [_paper("2401.00001", "First {paper}"), _paper("2401.00002", "Second paper")]
    text = export_papers(papers, fmt)
    parsed = parse_library(text, fmt)
    assert parsed.errors == []
    assert [e.arxiv_id for e in parsed.entries] == ["2401.00001", "2401.00002"]
    assert parsed.entries[1].title == "Second paper"
    assert len(parsed.entries[0].authors) == 2
    if fmt == "csl-json":
        assert json.loads(text)[0]["author"][1] == {"family": "Hopper", "given": "Grace Brewster"}
