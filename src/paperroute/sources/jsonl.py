"""Bulk JSON-lines formats: paperroute's own export, the arXiv listing crawl, the arXiv snapshot.

- `paper_to_json` writes a stored Paper as one export line; `record_from_paperroute` reads it back
  so that export -> import round-trips every field a source can assert (versions, HF upvotes,
  keywords, AI summary, organisation, links, announced). Local state (local upvotes, saves,
  hidden, featured) is exported for reference but not imported: it belongs to users' votes and
  moderation, not to a source.
- `record_from_listing`: lines of ../shared/data/arxiv_cs (first_seen is the announcement date;
  ACM/MSC codes such as "I.2.7" are dropped from categories).
- `record_from_snapshot`: the widely used arXiv metadata snapshot (Kaggle), one paper per line.

Each converter raises `BadRecord` with a reason a user can act on; `read_json_lines` streams lines,
numbers them from 1 and turns every problem into a RecordError while good lines keep coming.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from paperroute.models import Author, InvalidPaperId, Paper, PaperRecord, Version, split_arxiv_id
from paperroute.sources.base import Item, RecordError
from paperroute.sources.common import (
    abs_url,
    arxiv_categories,
    one_line,
    parse_date,
    parse_datetime,
    pdf_url,
    split_author_string,
)
from paperroute.sources.hf_daily import midnight

_ID_IN_LINE = re.compile(rb'"id"\s*:\s*"([^"]{1,64})"')


class BadRecord(ValueError):
    """A line that cannot become a record; the message is the reason shown to the user."""

    def __init__(self, reason: str, record_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.record_id = record_id


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def paper_to_json(paper: Paper, exported_at: datetime | None = None) -> dict:
    """One paperroute export line for a stored paper (every Paper field, dates in ISO 8601)."""
    data = asdict(paper)
    out = {k: _json_value(v) for k, v in data.items() if k != "versions"}
    out["versions"] = [{k: _json_value(v) for k, v in ver.items()} for ver in data["versions"]]
    if exported_at is not None:
        out["exported_at"] = exported_at.isoformat()
    return out


def _paper_id(obj: dict) -> tuple[str, int | None]:
    raw = obj.get("id")
    if raw is None or raw == "":
        raise BadRecord("missing id")
    if not isinstance(raw, str):
        raise BadRecord(f"not an arXiv id: {raw!r}")
    try:
        return split_arxiv_id(raw)
    except InvalidPaperId:
        raise BadRecord(f"not an arXiv id: {raw!r}", raw) from None


def _text(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{key} is not text: {value!r}"[:120])
    return value.strip() or None


def _title(obj: dict, key: str = "title") -> str:
    title = one_line(_text(obj, key))
    if not title:
        raise BadRecord("missing title")
    return title


def _list(obj: dict, key: str) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRecord(f"{key} is not a list")
    return value


def _when(obj: dict, key: str, parse: Callable[[str | None], Any]) -> Any:
    try:
        return parse(_text(obj, key))
    except ValueError:
        raise BadRecord(f"{key} is not a date: {obj.get(key)!r}") from None


def record_from_paperroute(obj: dict) -> PaperRecord:
    """An export line -> the record that recreates the paper."""
    paper_id, version = _paper_id(obj)
    versions = []
    for v in _list(obj, "versions"):
        if not isinstance(v, dict) or not isinstance(v.get("version"), int):
            raise BadRecord(f"bad version entry: {v!r}"[:120])
        versions.append(
            Version(
                version=v["version"],
                submitted=_when(v, "submitted", parse_datetime),
                title=_text(v, "title"),
                abstract=_text(v, "abstract"),
                size=_text(v, "size"),
            )
        )
    latest = obj.get("latest_version")
    if not versions and isinstance(latest, int):
        version = latest
    authors = []
    for a in _list(obj, "authors"):
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise BadRecord(f"bad author entry: {a!r}"[:120])
        authors.append(Author(a["name"], [x for x in a.get("affiliations") or [] if x]))
    stars = obj.get("github_stars")
    hf_upvotes = obj.get("hf_upvotes")
    return PaperRecord(
        source="paperroute",
        id=paper_id,
        version=None if versions else version,
        title=_title(obj),
        abstract=_text(obj, "abstract"),
        authors=authors,
        primary_category=_text(obj, "primary_category"),
        categories=[c for c in _list(obj, "categories") if isinstance(c, str) and c],
        published=_when(obj, "published", parse_datetime),
        updated=_when(obj, "updated", parse_datetime),
        announced=_when(obj, "announced", parse_date),
        comments=_text(obj, "comments"),
        journal_ref=_text(obj, "journal_ref"),
        doi=_text(obj, "doi"),
        license=_text(obj, "license"),
        abs_url=_text(obj, "abs_url"),
        pdf_url=_text(obj, "pdf_url"),
        code_url=_text(obj, "code_url"),
        project_url=_text(obj, "project_url"),
        github_stars=stars if isinstance(stars, int) else None,
        upvotes=hf_upvotes if isinstance(hf_upvotes, int) and hf_upvotes else None,
        keywords=[k for k in _list(obj, "keywords") if isinstance(k, str) and k],
        ai_summary=_text(obj, "ai_summary"),
        organization=_text(obj, "organization"),
        submitter=_text(obj, "submitter"),
        versions=versions,
        observed_at=_when(obj, "exported_at", parse_datetime),
    )


def record_from_listing(obj: dict) -> PaperRecord:
    """A line of the arXiv listing crawl -> record (first_seen = announced)."""
    paper_id, version = _paper_id(obj)
    categories = arxiv_categories([c for c in _list(obj, "categories") if isinstance(c, str)])
    return PaperRecord(
        source="arxiv-listing",
        id=paper_id,
        version=version,
        title=_title(obj),
        abstract=_text(obj, "summary"),
        authors=[
            Author(" ".join(n.split()))
            for n in _list(obj, "authors")
            if isinstance(n, str) and n.strip()
        ],
        primary_category=categories[0] if categories else None,
        categories=categories,
        announced=_when(obj, "first_seen", parse_date),
        comments=_text(obj, "comment"),
        abs_url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        observed_at=midnight(_when(obj, "last_seen", parse_date)),
    )


def _snapshot_authors(obj: dict) -> list[Author]:
    parsed = _list(obj, "authors_parsed")
    authors = []
    for parts in parsed:
        if not isinstance(parts, list):
            raise BadRecord("authors_parsed entries must be [last, first, suffix] lists")
        last, first, suffix = (list(parts) + ["", "", ""])[:3]
        name = one_line(" ".join(p for p in (first, last, suffix) if isinstance(p, str) and p))
        if name:
            authors.append(Author(name))
    if authors:
        return authors
    return [Author(n, a) for n, a in split_author_string(_text(obj, "authors"))]


def record_from_snapshot(obj: dict) -> PaperRecord:
    """A line of the arXiv metadata snapshot (Kaggle) -> record with every version's date."""
    paper_id, _ = _paper_id(obj)
    versions = []
    for v in _list(obj, "versions"):
        label = str(v.get("version", "")).lstrip("v") if isinstance(v, dict) else ""
        if not label.isdigit():
            raise BadRecord(f"bad version entry: {v!r}"[:120], paper_id)
        versions.append(Version(int(label), submitted=_when(v, "created", parse_datetime)))
    versions.sort(key=lambda v: v.version)
    categories = arxiv_categories(_text(obj, "categories"))
    return PaperRecord(
        source="arxiv-snapshot",
        id=paper_id,
        version=versions[-1].version if versions else None,
        title=_title(obj),
        abstract=_text(obj, "abstract"),
        authors=_snapshot_authors(obj),
        primary_category=categories[0] if categories else None,
        categories=categories,
        published=versions[0].submitted if versions else None,
        updated=versions[-1].submitted if len(versions) > 1 else None,
        comments=_text(obj, "comments"),
        journal_ref=_text(obj, "journal-ref"),
        doi=_text(obj, "doi"),
        license=_text(obj, "license"),
        abs_url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        submitter=_text(obj, "submitter"),
        versions=versions,
        observed_at=midnight(_when(obj, "update_date", parse_date)),
    )


def _json_problem(line: bytes) -> ValueError | None:
    try:
        json.loads(line.rstrip(b"\r\n"))
    except ValueError as exc:
        return exc
    return None


def read_json_lines(
    lines: Iterable[bytes],
    convert: Callable[[Any, int], Item],
    source: str,
    *,
    objects_only: bool = True,
) -> Iterator[Item]:
    """Stream records from JSON lines; each bad line becomes a RecordError numbered by its line.

    `convert(value, line_number)` returns a record or RecordError, or raises BadRecord.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            exc = _json_problem(line) or exc  # explain the line without its newline
            reason = f"invalid JSON: {getattr(exc, 'msg', exc)}"
            if hasattr(exc, "colno"):
                reason += f" (column {exc.colno})"
            found = _ID_IN_LINE.search(line)
            record_id = found.group(1).decode("utf-8", "replace") if found else None
            yield RecordError(source, reason, number, record_id)
            continue
        if objects_only and not isinstance(obj, dict):
            yield RecordError(source, f"expected a JSON object, got {type(obj).__name__}", number)
            continue
        try:
            yield convert(obj, number)
        except BadRecord as exc:
            record_id = exc.record_id or (obj.get("id") if isinstance(obj.get("id"), str) else None)
            yield RecordError(source, exc.reason, number, record_id)
