"""Builders of papers for tests, with unique defaults.

Every call without an id takes a new arXiv-style id, and the title and abstract name that id,
so two records built here never merge by accident (the store merges by any shared identifier,
and otherwise by normalised title + first author + year). Give any field to override it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from paperroute.models import Author, Paper, PaperRecord

_NUMBERS = itertools.count(90001)  # 2412.9xxxx: above the ids tests write out by hand
PUBLISHED = datetime(2024, 1, 2, tzinfo=UTC)


def new_id() -> str:
    """An arXiv id no other call has returned in this test process."""
    return f"2412.{next(_NUMBERS)}"


def paper_record(
    pid: str | None = None, *, source: str = "arxiv-api", published: datetime = PUBLISHED, **fields
) -> PaperRecord:
    """An arXiv-API-like record (no announcement day unless given, observed when published) with
    its own id, title and abstract."""
    pid = pid or new_id()
    values = dict(
        title=f"Paper {pid}",
        abstract=f"Abstract of {pid}.",
        authors=[Author("Ada Lovelace", ["Analytical Engines Ltd"]), Author("Grace Hopper")],
        categories=["cs.LG"],
        primary_category="cs.LG",
        observed_at=published,
    )
    values.update(fields)
    return PaperRecord(source=source, id=pid, published=published, **values)


def record(pid: str, day: date, hf: int, **fields) -> PaperRecord:
    """One HF-style observation of a paper announced on `day` with `hf` upvotes."""
    values = dict(
        title=f"Paper {pid} on learning",
        abstract=f"We study problem {pid} and report results.",
        authors=[Author("Ada Lovelace"), Author(f"Author {pid}")],
        categories=["cs.LG", "cs.AI"],
        primary_category="cs.LG",
        published=datetime(day.year, day.month, day.day, 1, tzinfo=UTC),
        announced=day,
        upvotes=hf,
        observed_at=datetime(2025, 2, 6, tzinfo=UTC),
    )
    values.update(fields)
    return paper_record(pid, source="hf-daily", **values)


def paper(pid: str | None = None, **fields) -> Paper:
    """A stored paper (what the store returns), for code that takes papers rather than records."""
    pid = pid or new_id()
    values = dict(
        title=f"Paper {pid}",
        abstract=f"Abstract of {pid}.",
        authors=[Author("Ada Lovelace")],
        primary_category="cs.LG",
        categories=["cs.LG"],
        published=PUBLISHED,
    )
    values.update(fields)
    return Paper(id=pid, **values)
