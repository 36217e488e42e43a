"""Crossref REST API works (api.crossref.org): by DOI, by filter, by journal ISSN.

Lists are read with deep `cursor` paging (the checkpoint is the next cursor, so a sync resumes);
the polite pool is joined with the `mailto` setting; the `X-Rate-Limit-Limit` /
`X-Rate-Limit-Interval` headers of each response set the delay between requests. JATS abstracts
become plain text (MathML as LaTeX). A DOI Crossref does not know is reported, not fatal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import httpx

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import feed_datetime
from paperroute.sources.http import HttpClient
from paperroute.sources.scholarly import (
    finish_record,
    identifiers_of,
    int_of,
    listing,
    load_json,
    mapping,
    markup_text,
    normalise_doi,
    safe_record,
    text_of,
)

NAME = "crossref"
PUBLICATION_TYPES = {
    "journal-article": "journal",
    "proceedings-article": "proceedings",
    "posted-content": "preprint",
    "book-chapter": "book-chapter",
}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


@dataclass
class WorksPage:
    """What one Crossref response held."""

    items: list[Item] = field(default_factory=list)
    next_cursor: str | None = None
    total: int | None = None


def parse_works(content: bytes, *, first_record: int = 1, source: str = NAME) -> WorksPage:
    """Parse a `/works` list or single-work response; a failure body raises SourceError."""
    doc = load_json(content, source)
    body = mapping(doc)
    if body.get("status") != "ok":
        messages = [text_of(mapping(m).get("message")) for m in listing(body.get("message"))]
        reason = "; ".join(m for m in messages if m) or text_of(body.get("message-type"))
        raise SourceError(f"{source}: Crossref refused the request: {reason or 'no reason'}")
    message = mapping(body.get("message"))
    if body.get("message-type") == "work":
        return WorksPage(items=[record_from_work(message, first_record, source)], total=1)
    if body.get("message-type") != "work-list":
        raise SourceError(f"{source}: not a works response ({body.get('message-type')!r})")
    items = [
        record_from_work(work, n, source)
        for n, work in enumerate(listing(message.get("items")), start=first_record)
    ]
    cursor = message.get("next-cursor")
    return WorksPage(
        items, cursor if isinstance(cursor, str) else None, int_of(message.get("total-results"))
    )


def record_from_work(work: Any, number: int, source: str = NAME) -> Item:
    """One Crossref work as a record (RecordError naming it when unusable)."""
    label = text_of(mapping(work).get("DOI"))
    return safe_record(lambda w, n: _record(w, n, source), work, number, source, label)


def _record(work: Mapping[str, Any], number: int, source: str) -> Item:
    if not isinstance(work, dict):
        return RecordError(source, "work is not a JSON object", number)
    doi = normalise_doi(work.get("DOI"))
    if not doi:
        return RecordError(source, "missing DOI", number, text_of(work.get("DOI")))
    published = _date_parts(work, "published", "published-print", "published-online", "issued")
    title = markup_text(text_of(work.get("title")))
    subtitle = markup_text(text_of(work.get("subtitle")))
    container = markup_text(text_of(work.get("container-title")))
    record = PaperRecord(
        source=source,
        id="",
        title=f"{title}: {subtitle}" if title and subtitle else title,
        abstract=markup_text(work.get("abstract")),
        authors=_authors(work.get("author")),
        published=_as_datetime(published),
        announced=published,
        doi=doi,
        license=text_of([mapping(x).get("URL") for x in listing(work.get("license"))]),
        abs_url=text_of(work.get("URL")) or f"https://doi.org/{doi}",
        pdf_url=_pdf_link(work.get("link")),
        keywords=[s for s in (text_of(x) for x in listing(work.get("subject"))) if s],
        observed_at=feed_datetime(text_of(mapping(work.get("indexed")).get("date-time"))),
        identifiers=identifiers_of(doi=doi, arxiv=_preprint_arxiv(work.get("relation"))),
        venue=container or text_of(mapping(work.get("event")).get("name")),
        year=published.year if published else None,
        publication_type=PUBLICATION_TYPES.get(
            text_of(work.get("type")) or "", text_of(work.get("type"))
        ),
        issn=text_of(work.get("ISSN")),
        volume=text_of(work.get("volume")),
        issue=text_of(work.get("issue")),
        pages=text_of(work.get("page")),
        citation_count=int_of(work.get("is-referenced-by-count")),
    )
    return finish_record(record, number, doi)


def _authors(value: Any) -> list[Author]:
    out = []
    for person in listing(value):
        person = mapping(person)
        name = " ".join(
            p for p in (text_of(person.get("given")), text_of(person.get("family"))) if p
        )
        name = name or text_of(person.get("name"))
        if name:
            affiliations = [
                text_of(mapping(a).get("name")) for a in listing(person.get("affiliation"))
            ]
            out.append(Author(name, [a for a in affiliations if a]))
    return out


def _date_parts(work: Mapping[str, Any], *keys: str) -> date | None:
    for key in keys:
        parts = listing(mapping(work.get(key)).get("date-parts"))
        first = [p for p in listing(parts[0]) if int_of(p) is not None] if parts else []
        if first:
            try:
                return date(first[0], *(first[1:3] + [1, 1])[:2])
            except (ValueError, OverflowError):
                continue
    return None


def _as_datetime(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _pdf_link(links: Any) -> str | None:
    for link in listing(links):
        link = mapping(link)
        if text_of(link.get("content-type")) == "application/pdf":
            return text_of(link.get("URL"))
    return None


def _preprint_arxiv(relation: Any) -> str | None:
    """The arXiv id of the preprint Crossref links to the work ("has-preprint"), if any."""
    for rel in listing(mapping(relation).get("has-preprint")):
        rel = mapping(rel)
        if text_of(rel.get("id-type")) == "arxiv":
            return text_of(rel.get("id"))
    return None


def rate_interval(headers: httpx.Headers) -> float | None:
    """Seconds between requests that `X-Rate-Limit-Limit` per `X-Rate-Limit-Interval` allow."""
    limit = headers.get("X-Rate-Limit-Limit", "")
    match = _INTERVAL.match(headers.get("X-Rate-Limit-Interval", ""))
    if not limit.strip().isdigit() or int(limit) <= 0 or not match:
        return None
    unit = {"ms": 0.001, "m": 60.0}.get(match.group(2) or "s", 1.0)
    return float(match.group(1)) * unit / int(limit)


class CrossrefSource:
    """Crossref works by DOI, by filter or by journal ISSN, cursor-paged and resumable."""

    name = NAME

    def __init__(
        self,
        *,
        dois: Sequence[str] = (),
        filters: Mapping[str, str] | None = None,
        issn: str | None = None,
        mailto: str | None = None,
        rows: int = 100,
        max_results: int | None = None,
        base_url: str = "https://api.crossref.org",
        client: HttpClient | None = None,
    ) -> None:
        if sum(bool(x) for x in (dois, filters, issn)) != 1:
            raise SourceError(f"{NAME}: give DOIs, a filter or a journal ISSN (one of them)")
        if not 1 <= rows <= 1000:
            raise SourceError(f"{NAME}: rows must be 1..1000, not {rows}")
        self.dois = [d for d in (normalise_doi(x) for x in dois) if d]
        if dois and not self.dois:
            raise SourceError(f"{NAME}: not a DOI: {', '.join(dois)[:200]}")
        self.filters = dict(filters or {})
        self.issn = issn.strip() if issn else None
        self.mailto, self.rows, self.max_results = mailto, rows, max_results
        self.base_url = base_url.rstrip("/")
        self.client = client or HttpClient(source=NAME)
        self._floor = self.client.min_interval

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> CrossrefSource:
        """A source using the configured endpoint, polite-pool address, timeout and retries."""
        client = HttpClient.from_settings(
            settings, source=NAME, min_interval=settings.crossref_delay
        )
        options.setdefault("mailto", settings.crossref_mailto or None)
        return cls(base_url=settings.crossref_url, client=client, **options)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """DOIs one request each; lists a page per cursor (checkpoint: {"cursor", "seen"})."""
        if self.dois:
            yield from self._by_doi(int((checkpoint or {}).get("done", 0)))
            return
        state = dict(checkpoint or {"cursor": "*", "seen": 0})
        url = (
            f"{self.base_url}/journals/{quote(self.issn)}/works"
            if self.issn
            else f"{self.base_url}/works"
        )
        while True:
            params = {"rows": self.rows, "cursor": state["cursor"], **self._polite()}
            if self.filters:
                params["filter"] = ",".join(f"{k}:{v}" for k, v in self.filters.items())
            page = parse_works(self._get(url, params).content, first_record=state["seen"] + 1)
            state = {"cursor": page.next_cursor, "seen": state["seen"] + len(page.items)}
            done = (
                not page.items
                or not page.next_cursor
                or (page.total is not None and state["seen"] >= page.total)
                or (self.max_results is not None and state["seen"] >= self.max_results)
            )
            yield Page(items=page.items, checkpoint=state, done=done)
            if done:
                return

    def _by_doi(self, done: int) -> Iterator[Page]:
        for number, doi in enumerate(self.dois[done:], start=done + 1):
            response = self._get(
                f"{self.base_url}/works/{quote(doi, safe='/')}", self._polite(), accept=(404,)
            )
            if response.status_code == 404:
                items: list[Item] = [RecordError(NAME, "Crossref has no such DOI", number, doi)]
            else:
                items = parse_works(response.content, first_record=number).items
            yield Page(items=items, checkpoint={"done": number}, done=number == len(self.dois))

    def _polite(self) -> dict[str, str]:
        return {"mailto": self.mailto} if self.mailto else {}

    def _get(
        self, url: str, params: Mapping[str, Any], accept: Sequence[int] = ()
    ) -> httpx.Response:
        response = self.client.get(url, params, accept=(400, *accept))
        interval = rate_interval(response.headers)
        if interval is not None:  # Crossref says how fast we may go: never faster than configured
            self.client.min_interval = max(self._floor, interval)
        if response.status_code == 400:
            parse_works(response.content)  # raises with Crossref's validation message
            raise SourceError(f"{NAME}: HTTP 400 from {response.url}")
        return response
