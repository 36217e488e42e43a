"""Bulk JSON-lines formats: paperroute's own export, the arXiv listing crawl, the arXiv snapshot.

- `paper_to_json` writes a stored Paper as one export line; `record_from_paperroute` reads it back
  so that export -> import round-trips every field a source can assert (versions, HF upvotes,
  keywords, AI summary, organisation, links, announced). Local state (local upvotes, saves,
  hidden, featured) is exported for reference but not imported: it belongs to users' votes and
  moderation, not to a source.
- `record_from_listing`: lines of ../shared/data/arxiv_cs (first_seen is the announcement date;
  ACM/MSC codes such as "I.2.7" are dropped from categories).
- `record_from_snapshot`: the widely used arXiv metadata snapshot (Kaggle), one paper per line.

Each converter checks the type of every field it reads and raises `BadRecord` with a reason a user
can act on; `read_json_lines` streams lines, numbers them from 1 and turns every problem (bad JSON,
nesting too deep, a line over the length limit, a wrong type, a value out of range) into a
RecordError while good lines keep coming.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import IO, Any

from paperroute.models import Author, InvalidPaperId, Paper, PaperRecord, Version, split_arxiv_id
from paperroute.sources.base import Item, RecordError
from paperroute.sources.common import (
    abs_url,
    arxiv_categories,
    checked,
    one_line,
    parse_date,
    parse_datetime,
    pdf_url,
    split_author_string,
)
from paperroute.sources.hf_daily import midnight

_ID_IN_LINE = re.compile(rb'"id"\s*:\s*"([^"]{1,64})"')
MAX_LINE_BYTES = 10 * 1024 * 1024  # a longer line is rejected by number without being loaded


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


def _texts(obj: dict, key: str) -> list[str]:
    """A list of strings (empty ones dropped); any other element is an error naming the field."""
    values = _list(obj, key)
    for value in values:
        if not isinstance(value, str):
            raise BadRecord(f"{key} must be a list of text, not contain {type(value).__name__}")
    return [v for v in values if v.strip()]


def _count(obj: dict, key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord(f"{key} is not a whole number: {value!r}"[:120])
    return value


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise BadRecord(f"bad {what} entry: {value!r}"[:120])
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
        number = _count(_object(v, "version"), "version")
        if number is None:
            raise BadRecord(f"bad version entry: {v!r}"[:120])
        versions.append(
            Version(
                version=number,
                submitted=_when(v, "submitted", parse_datetime),
                title=_text(v, "title"),
                abstract=_text(v, "abstract"),
                size=_text(v, "size"),
            )
        )
    latest = _count(obj, "latest_version")
    if not versions and latest is not None:
        version = latest
    authors = []
    for a in _list(obj, "authors"):
        if not isinstance(_object(a, "author").get("name"), str):
            raise BadRecord(f"bad author entry: {a!r}"[:120])
        authors.append(Author(a["name"], _texts(a, "affiliations")))
    hf_upvotes = _count(obj, "hf_upvotes")
    return PaperRecord(
        source="paperroute",
        id=paper_id,
        version=None if versions else version,
        title=_title(obj),
        abstract=_text(obj, "abstract"),
        authors=authors,
        primary_category=_text(obj, "primary_category"),
        categories=_texts(obj, "categories"),
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
        github_stars=_count(obj, "github_stars"),
        upvotes=hf_upvotes or None,
        keywords=_texts(obj, "keywords"),
        ai_summary=_text(obj, "ai_summary"),
        organization=_text(obj, "organization"),
        submitter=_text(obj, "submitter"),
        versions=versions,
        observed_at=_when(obj, "exported_at", parse_datetime),
    )


def record_from_listing(obj: dict) -> PaperRecord:
    """A line of the arXiv listing crawl -> record (first_seen = announced)."""
    paper_id, version = _paper_id(obj)
    categories = arxiv_categories(_texts(obj, "categories"))
    return PaperRecord(
        source="arxiv-listing",
        id=paper_id,
        version=version,
        title=_title(obj),
        abstract=_text(obj, "summary"),
        authors=[Author(" ".join(n.split())) for n in _texts(obj, "authors")],
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
        label = str(v.get("version", ""))[:12].lstrip("v") if isinstance(v, dict) else ""
        if not (label.isascii() and label.isdigit()):
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


@dataclass
class LongLine:
    """A line over the length limit: its start (for the id) and its length; the rest was skipped."""

    start: bytes
    size: int
    limit: int


def bounded_lines(fh: IO[bytes], limit: int) -> Iterator[bytes | LongLine]:
    """The lines of a binary file, each read into memory only when it is at most `limit` bytes."""
    while line := fh.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        start, size = line[:4096], len(line)
        del line
        while chunk := fh.readline(1 << 20):  # skip the rest of the line, 1 MB at a time
            size += len(chunk)
            if chunk.endswith(b"\n"):
                break
        yield LongLine(start, size, limit)


def _json_problem(line: bytes) -> ValueError | None:
    try:
        json.loads(line.rstrip(b"\r\n"))
    except ValueError as exc:
        return exc
    return None


def _line_id(start: bytes) -> str | None:
    found = _ID_IN_LINE.search(start)
    return found.group(1).decode("utf-8", "replace") if found else None


def _parse_line(line: bytes | LongLine, source: str, number: int) -> Any:
    """The JSON value of a line, or the RecordError that explains why there is none."""
    if isinstance(line, LongLine):
        reason = f"line is {line.size:,} bytes, over the {line.limit:,}-byte limit; skipped"
        return RecordError(source, reason, number, _line_id(line.start))
    try:
        return json.loads(line)
    except RecursionError:
        return RecordError(source, "invalid JSON: nested too deeply", number, _line_id(line))
    except ValueError as exc:
        exc = _json_problem(line) or exc  # explain the line without its newline
        reason = f"invalid JSON: {getattr(exc, 'msg', exc)}"
        if hasattr(exc, "colno"):
            reason += f" (column {exc.colno})"
        return RecordError(source, reason, number, _line_id(line))


def read_json_lines(
    lines: Iterable[bytes | LongLine],
    convert: Callable[[Any, int], Item],
    source: str,
    *,
    objects_only: bool = True,
) -> Iterator[Item]:
    """Stream records from JSON lines; each bad line becomes a RecordError numbered by its line.

    `convert(value, line_number)` returns a record or RecordError, or raises BadRecord; every
    record is then held to `common.record_problem` (types, ranges, lengths).
    """
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes) and not line.strip():
            continue
        obj = _parse_line(line, source, number)
        if isinstance(obj, RecordError):
            yield obj
            continue
        if objects_only and not isinstance(obj, dict):
            yield RecordError(source, f"expected a JSON object, got {type(obj).__name__}", number)
            continue
        record_id = (
            obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        )
        try:
            yield checked(convert(obj, number), number, record_id)
        except BadRecord as exc:
            yield RecordError(source, exc.reason, number, exc.record_id or record_id)
