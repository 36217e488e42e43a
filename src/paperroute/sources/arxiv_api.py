"""arXiv API (`/api/query`): id lists and search queries, paged, 3 seconds between requests.

Reads both the current (2025+) Atom responses and the legacy (2016) ones. An error feed (HTTP 400
for `id_list=abc`, or an entry whose id is an `api/errors#...` URL) becomes a SourceError carrying
arXiv's own message; an empty result (`id_list=0000.0000`) yields no records.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from lxml import etree

from paperroute.models import Author, PaperRecord, Version
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import (
    XmlStream,
    abs_url,
    arxiv_categories,
    arxiv_id_or_error,
    checked,
    clean_text,
    feed_datetime,
    one_line,
    parse_datetime,
    pdf_url,
    xml_text,
)
from paperroute.sources.http import HttpClient

NAME = "arxiv-api"
ATOM = "http://www.w3.org/2005/Atom"
NS = {
    "a": ATOM,
    "arxiv": "http://arxiv.org/schemas/atom",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
}


@dataclass
class ApiPage:
    """What one API response held."""

    items: list[Item] = field(default_factory=list)
    total_results: int | None = None
    start_index: int = 0
    entries: int = 0  # entries in the response, rejected ones included


def parse_api_response(content: bytes, *, first_record: int = 1, source: str = NAME) -> ApiPage:
    """Parse one Atom response of /api/query; raise SourceError for arXiv's error feeds."""
    page = ApiPage()
    page.items = list(
        stream_api(io.BytesIO(content), page, first_record=first_record, source=source)
    )
    return page


def stream_api(
    fh: IO[bytes], page: ApiPage, *, first_record: int = 1, source: str = NAME
) -> Iterator[Item]:
    """Yield the entries of an API Atom file as they are read, filling `page`'s counts."""
    stream = XmlStream(fh, source, first_record)
    root = stream.root()
    if root.tag != f"{{{ATOM}}}feed":
        raise SourceError(
            f"{source}: not an Atom feed (root element {root.tag!r}): {stream.head!r}"
        )
    observed = None
    number = first_record
    for elem in stream.children(1, f"{{{ATOM}}}entry"):
        if elem.tag == f"{{{ATOM}}}updated":
            observed = feed_datetime(clean_text(elem.text))
        elif elem.tag == f"{{{NS['os']}}}totalResults":
            page.total_results = _whole(elem.text)
        elif elem.tag == f"{{{NS['os']}}}startIndex":
            page.start_index = _whole(elem.text) or 0
        elif elem.tag == f"{{{ATOM}}}entry":
            entry_id = xml_text(elem, "a:id", NS) or ""
            if "/api/errors" in entry_id:
                message = xml_text(elem, "a:summary", NS) or entry_id
                raise SourceError(f"{source}: arXiv API error: {message}")
            page.entries += 1
            yield _parse_entry(elem, number, observed, source)
            number += 1


def _whole(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def _parse_entry(
    entry: etree._Element, number: int, observed: datetime | None, source: str
) -> Item:
    raw_id = xml_text(entry, "a:id", NS)
    parsed = arxiv_id_or_error(raw_id, source, number)
    if isinstance(parsed, RecordError):
        return parsed
    paper_id, version = parsed
    title = one_line(xml_text(entry, "a:title", NS))
    if not title:
        return RecordError(source, "missing <title>", number, raw_id)
    try:
        published = parse_datetime(xml_text(entry, "a:published", NS))
        updated = parse_datetime(xml_text(entry, "a:updated", NS))
    except ValueError as exc:
        return RecordError(source, str(exc), number, raw_id)
    categories = arxiv_categories([c.get("term", "") for c in entry.iterfind("a:category", NS)])
    primary = entry.find("arxiv:primary_category", NS)
    primary_term = primary.get("term") if primary is not None else None
    abstract = xml_text(entry, "a:summary", NS)
    versions = []
    if version:
        versions.append(Version(version, submitted=published if version == 1 else updated))
        if version > 1 and published:
            versions.insert(0, Version(1, submitted=published))
    record = PaperRecord(
        source=source,
        id=paper_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=[_author(a) for a in entry.iterfind("a:author", NS)],
        primary_category=primary_term or (categories[0] if categories else None),
        categories=categories,
        published=published,
        updated=updated,
        comments=xml_text(entry, "arxiv:comment", NS),
        journal_ref=xml_text(entry, "arxiv:journal_ref", NS),
        doi=xml_text(entry, "arxiv:doi", NS),
        abs_url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        versions=versions,
        observed_at=observed,
    )
    return checked(record, number, raw_id)


def _author(element: etree._Element) -> Author:
    affiliations = [clean_text(a.text) for a in element.iterfind("arxiv:affiliation", NS)]
    return Author(one_line(xml_text(element, "a:name", NS)) or "", [a for a in affiliations if a])


class ArxivAPISource:
    """Live /api/query client: `ids` (page_size per request) or a `query`, paged to the end."""

    name = NAME

    def __init__(
        self,
        *,
        ids: Sequence[str] = (),
        query: str | None = None,
        base_url: str = "https://export.arxiv.org/api/query",
        page_size: int = 100,
        max_results: int | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        client: HttpClient | None = None,
        delay: float = 3.0,
    ) -> None:
        if bool(ids) == bool(query):
            raise SourceError(f"{NAME}: give either ids or a search query")
        if page_size < 1:
            raise SourceError(f"{NAME}: page size must be at least 1")
        self.ids = [i.strip() for i in ids if i.strip()]
        self.query = query
        self.base_url = base_url
        self.page_size = page_size
        self.max_results = max_results
        self.sort = {k: v for k, v in (("sortBy", sort_by), ("sortOrder", sort_order)) if v}
        self.client = client or HttpClient(source=NAME, min_interval=delay)
        self.total_results: int | None = None

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> ArxivAPISource:
        """A client using the configured endpoint, politeness delay, timeout and retries."""
        client = HttpClient.from_settings(
            settings, source=NAME, min_interval=settings.arxiv_api_delay
        )
        return cls(base_url=settings.arxiv_api_url, client=client, **options)

    def _params(self, start: int) -> dict[str, Any]:
        if self.ids:
            chunk = self.ids[start : start + self.page_size]
            return {"id_list": ",".join(chunk), "start": 0, "max_results": len(chunk)}
        size = self.page_size
        if self.max_results is not None:
            size = min(size, self.max_results - start)
        return {"search_query": self.query, "start": start, "max_results": size, **self.sort}

    def _limit(self) -> int | None:
        limits = [n for n in (self.max_results, self.total_results) if n is not None]
        if self.ids:
            limits.append(len(self.ids))
        return min(limits) if limits else None

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """Yield one page per request; the checkpoint is {"start": next offset}."""
        start = int(checkpoint.get("start", 0)) if isinstance(checkpoint, dict) else 0
        while True:
            limit = self._limit()
            if limit is not None and start >= limit:
                yield Page(items=[], checkpoint=None, done=True)
                return
            response = self.client.get(self.base_url, self._params(start), accept=(400,))
            page = parse_api_response(response.content, first_record=start + 1)
            if response.status_code == 400:  # an error feed without an error entry
                raise SourceError(f"{NAME}: HTTP 400 from {response.url}")
            if not self.ids and page.total_results is not None:
                self.total_results = page.total_results
            start += self.page_size if self.ids else page.entries
            limit = self._limit()
            exhausted = page.entries == 0 and not self.ids  # arXiv sometimes ends a query early
            done = exhausted or (limit is not None and start >= limit)
            yield Page(items=page.items, checkpoint=None if done else {"start": start}, done=done)
            if done:
                return
