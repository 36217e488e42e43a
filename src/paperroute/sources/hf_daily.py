"""Hugging Face daily papers: live `GET /api/daily_papers?date=D` and saved responses.

Saved responses come in the shapes found in the wild: a JSON list of entries, a list of Python-repr
strings (parsed with `ast.literal_eval`, never `eval`), a `{status, date, count, data}` wrapper, and
archive lines (one entry per line plus `_archive_date`). Only paper fields are kept: never
submitter profiles or avatars. `observed_at` is the archive/fetch date, so the newest upvote
snapshot wins when several are imported.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import (
    abs_url,
    arxiv_id_or_error,
    checked,
    one_line,
    parse_date,
    parse_datetime,
    pdf_url,
)
from paperroute.sources.http import HttpClient

NAME = "hf-daily"
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def midnight(day: date | None) -> datetime | None:
    """00:00 UTC of a date (the observation time of a daily snapshot)."""
    return datetime.combine(day, time(), tzinfo=UTC) if day else None


def decode_entry(raw: Any) -> dict:
    """An API entry as a dict; Python-repr strings are read safely with ast.literal_eval."""
    if isinstance(raw, str):
        if len(raw) > 1_000_000:  # literal_eval builds an AST many times the text's size
            raise ValueError(f"Python literal of {len(raw):,} characters is over 1,000,000")
        try:
            raw = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise ValueError(f"invalid Python literal: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"expected an object, got {type(raw).__name__}")
    return raw


def record_from_entry(
    raw: Any,
    number: int,
    *,
    observed: datetime | None = None,
    day: date | None = None,
    source: str = NAME,
) -> Item:
    """One daily-papers entry -> PaperRecord (paper fields only), or a RecordError saying why."""
    try:
        entry = decode_entry(raw)
    except ValueError as exc:
        return RecordError(source, str(exc), number)
    paper = entry.get("paper") if isinstance(entry.get("paper"), dict) else entry
    parsed = arxiv_id_or_error(_str(paper.get("id")), source, number)
    if isinstance(parsed, RecordError):
        return parsed
    paper_id = parsed[0]
    title = one_line(_str(paper.get("title")) or _str(entry.get("title")))
    if not title:
        return RecordError(source, "missing title", number, paper_id)
    archive_day = _str(entry.get("_archive_date"))
    try:
        day = parse_date(archive_day) or day
        announced = parse_date(_str(paper.get("submittedOnDailyAt"))) or day
        announced = announced or parse_date(_str(entry.get("publishedAt")))
        published = parse_datetime(_str(paper.get("publishedAt")))
        authors = [Author(n) for n in _author_names(paper.get("authors"))]
        upvotes = _int(paper.get("upvotes"), "upvotes")
        stars = _int(paper.get("githubStars"), "githubStars")
        keywords = _strings(paper.get("ai_keywords"), "ai_keywords")
        categories = _strings(paper.get("categories"), "categories")  # the demo adds them
    except ValueError as exc:
        return RecordError(source, str(exc), number, paper_id)
    record = PaperRecord(
        source=source,
        id=paper_id,
        title=title,
        abstract=(_str(paper.get("summary")) or "").strip() or None,
        authors=authors,
        published=published,
        announced=announced,
        abs_url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        code_url=_str(paper.get("githubRepo")) or None,
        project_url=_str(paper.get("projectPage")) or None,
        github_stars=stars,
        upvotes=upvotes,
        keywords=keywords,
        categories=categories,
        ai_summary=one_line(_str(paper.get("ai_summary"))) or None,
        organization=_organization(paper.get("organization") or entry.get("organization")),
        observed_at=midnight(day) if day else observed,
    )
    return checked(record, number, paper_id)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _organization(value: Any) -> str | None:
    # HF sends {"name": "google", "fullname": "Google", ...}; the display name is what readers know.
    if not isinstance(value, dict):
        return None
    return one_line(_str(value.get("fullname")) or _str(value.get("name"))) or None


def _int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"{name} is not a number: {value!r}"[:120])
    if isinstance(value, float) and not -1e15 < value < 1e15:  # inf, or beyond any count
        raise ValueError(f"{name} is out of range: {value!r}")
    return int(value)


def _strings(values: Any, name: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise ValueError(f"{name} is not a list")
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def _author_names(authors: Any) -> list[str]:
    if authors is None:
        return []
    if not isinstance(authors, list):
        raise ValueError("authors is not a list")
    names = []
    for author in authors:
        name = one_line(_str(author.get("name")) if isinstance(author, dict) else _str(author))
        if name:
            names.append(name)
    return names


def entries_of(document: Any, source: str = NAME) -> tuple[list, date | None]:
    """(entries, date) of a saved/live response: a list, or the {status,date,count,data} wrapper."""
    if isinstance(document, list):
        return document, None
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        try:
            day = parse_date(_str(document.get("date")))
        except ValueError:
            day = None
        return document["data"], day
    if isinstance(document, dict) and ("error" in document or "message" in document):
        raise SourceError(f"{source}: error reply: {document.get('error') or document['message']}")
    raise SourceError(f"{source}: expected a list of daily papers, got {type(document).__name__}")


def date_from_name(name: str) -> date | None:
    """The YYYY-MM-DD date in a saved file's name (2024-12-11.json), if any."""
    match = _DATE_IN_NAME.search(name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def parse_daily_response(
    content: bytes | str,
    *,
    day: date | None = None,
    observed: datetime | None = None,
    first_record: int = 1,
    source: str = NAME,
) -> list[Item]:
    """Records of one saved or live /api/daily_papers response."""
    try:
        document = json.loads(content)
    except ValueError as exc:
        raise SourceError(f"{source}: response is not JSON: {exc}") from None
    except RecursionError:
        raise SourceError(f"{source}: response is not usable JSON: nested too deeply") from None
    entries, wrapped_day = entries_of(document, source)
    day = wrapped_day or day
    return [
        record_from_entry(e, n, observed=observed, day=day, source=source)
        for n, e in enumerate(entries, start=first_record)
    ]


class HfDailySource:
    """Live daily papers for one date or each date of a range (one page per date)."""

    name = NAME

    def __init__(
        self,
        dates: Sequence[date] = (),
        *,
        since: date | None = None,
        until: date | None = None,
        base_url: str = "https://huggingface.co",
        client: HttpClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.now = now
        days = list(dates)
        if since is not None:
            end = until or now().date()
            if end < since:
                raise SourceError(f"{NAME}: --since {since} is after {end}")
            days += [since + timedelta(days=i) for i in range((end - since).days + 1)]
        if not days:
            raise SourceError(f"{NAME}: give a date or a start date (since)")
        self.dates = sorted(set(days))
        self.url = f"{base_url.rstrip('/')}/api/daily_papers"
        self.client = client or HttpClient(source=NAME)

    @classmethod
    def from_settings(
        cls, settings: Any, dates: Sequence[date] = (), **options: Any
    ) -> HfDailySource:
        """A client using the configured Hugging Face URL, timeout and retries."""
        client = HttpClient.from_settings(settings, source=NAME)
        return cls(dates, base_url=settings.hf_api_url, client=client, **options)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """One page per date; the checkpoint {"date": D} resumes after the last stored date."""
        done_until = None
        if isinstance(checkpoint, dict) and checkpoint.get("date"):
            done_until = date.fromisoformat(checkpoint["date"])
        todo = [d for d in self.dates if done_until is None or d > done_until]
        if not todo:
            yield Page(items=[], checkpoint=None, done=True)
            return
        for i, day in enumerate(todo):
            response = self.client.get(self.url, {"date": day.isoformat()})
            items = parse_daily_response(response.content, observed=self.now())
            for item in items:  # the day asked for is the day the paper was on HF daily
                if isinstance(item, PaperRecord) and item.announced is None:
                    item.announced = day
            last = i == len(todo) - 1
            yield Page(
                items=items,
                checkpoint=None if last else {"date": day.isoformat()},
                done=last,
            )
