"""The one writer per reference format (library/export.py) against hostile paper text.

Property-based: any title, abstract, author name, DOI or category must give exactly one entry
(BibTeX, read back by bibtexparser) or one record (RIS, read back by rispy) with only the
fields the writer means to write.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import bibtexparser
import rispy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import paper
from paperroute.models import Author, Paper
from paperroute.references.export import to_bibtex, to_csl_json, to_ris

# Pieces that mean something to BibTeX or RIS, mixed with ordinary text and any Unicode.
PIECES = [*"{}\\@,=\"%# \n\r\tax-", "@misc{k,", "}}", "title = {", "\nER  - \n", "\nTY  - BOOK",
          "\nUR  - https://evil.example", "\u2028KW  - x"]  # fmt: skip
HOSTILE = st.lists(st.sampled_from(PIECES) | st.characters(codec="utf-8"), max_size=20).map("".join)
BIB_FIELDS = {"title", "author", "year", "eprint", "archivePrefix", "primaryClass", "url"}
RIS_TAGS = {"type_of_reference", "title", "authors", "year", "journal_name", "note", "urls"}


def _paper(title: str, text: str, name: str) -> Paper:
    """A paper whose every text field holds the hostile values."""
    return paper(
        "2502.00001",
        title="T " + title,
        abstract=text,
        authors=[Author("Ada " + name), Author(name)],
        categories=["cs.LG", text],
        published=datetime(2025, 2, 3, tzinfo=UTC),
        doi=text,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE, HOSTILE, HOSTILE)
def test_any_text_gives_one_bibtex_entry_with_only_its_own_fields(title, text, name):
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    library = bibtexparser.parse_string(to_bibtex([_paper(title, text, name)]))
    assert not library.failed_blocks
    [entry] = library.entries
    assert BIB_FIELDS <= set(entry.fields_dict) <= BIB_FIELDS | {"doi", "abstract"}
    assert entry.fields_dict["eprint"].value == "2502.00001"
    assert entry.fields_dict["title"].value.startswith("T")


@settings(max_examples=300, deadline=None)
@given(HOSTILE, HOSTILE, HOSTILE)
def test_any_text_gives_one_ris_record_with_only_its_own_tags(title, text, name):
    [entry] = rispy.loads(to_ris([_paper(title, text, name)]))
    assert entry["type_of_reference"] == "JOUR"
    assert RIS_TAGS <= set(entry) <= RIS_TAGS | {"doi", "abstract", "keywords"}
    assert entry["urls"] == ["https://arxiv.org/abs/2502.00001"]


@settings(max_examples=100, deadline=None)
@given(HOSTILE, HOSTILE, HOSTILE)
def test_any_text_gives_one_csl_item_that_keeps_the_title(title, text, name):
    [item] = json.loads(to_csl_json([_paper(title, text, name)]))
    assert item["title"] == " ".join(("T " + title).split())
    assert item["number"] == "2502.00001"
