"""arXiv new-listing feeds from rss.arxiv.org, RSS 2.0 and Atom, for one or more categories.

Each item becomes a record with its announce type (new, cross, replace, replace-cross) and the
announcement date of the feed. A day without announcements is an empty feed: no records, no
error. arXiv's error feed (e.g. for an unknown archive) becomes a SourceError with its message.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from lxml import etree

from paperroute.models import Author, PaperRecord
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
    parse_date,
    pdf_url,
    split_author_string,
    xml_text,
)
from paperroute.sources.http import HttpClient

NAME = "arxiv-rss"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
}
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:)?(?P<abstract>.*)$",
    re.DOTALL,
)


@dataclass
class FeedPage:
    """What one feed held."""

    items: list[Item] = field(default_factory=list)
    announced: date | None = None


def parse_feed(content: bytes, *, first_record: int = 1, source: str = NAME) -> FeedPage:
    """Parse an rss.arxiv.org RSS 2.0 or Atom feed; raise SourceError for the error feed."""
    page = FeedPage()
    page.items = list(
        stream_feed(io.BytesIO(content), page, first_record=first_record, source=source)
    )
    return page


def stream_feed(
    fh: IO[bytes], page: FeedPage, *, first_record: int = 1, source: str = NAME
) -> Iterator[Item]:
    """Yield the items of an RSS 2.0 or Atom feed as they are read, filling `page.announced`."""
    stream = XmlStream(fh, source, first_record)
    root = stream.root()
    if root.tag == "rss":
        return _stream(stream, page, first_record, source, _RSS)
    if root.tag == f"{{{NS['atom']}}}feed":
        return _stream(stream, page, first_record, source, _ATOM)
    raise SourceError(
        f"{source}: not an RSS or Atom feed (root element {root.tag!r}): {stream.head!r}"
    )


@dataclass(frozen=True)
class _Shape:
    """Where an RSS 2.0 or an Atom feed keeps its parts."""

    depth: int  # of the items (rss/channel/item or feed/entry)
    item: str
    title: str  # feed-level tags
    message: str
    announced: str | None
    observed: str
    fields: Callable[[etree._Element], dict[str, Any]]


def _rss_fields(item: etree._Element) -> dict[str, Any]:
    return {
        "id": xml_text(item, "guid", {}) or xml_text(item, "link", {}),
        "title": xml_text(item, "title", {}),
        "description": xml_text(item, "description", {}),
        "categories": [c.text or "" for c in item.iterfind("category")],
        "date": xml_text(item, "pubDate", {}),
    }


def _atom_fields(entry: etree._Element) -> dict[str, Any]:
    return {
        "id": xml_text(entry, "atom:id", NS),
        "title": xml_text(entry, "atom:title", NS),
        "description": xml_text(entry, "atom:summary", NS),
        "categories": [c.get("term", "") for c in entry.iterfind("atom:category", NS)],
        "date": xml_text(entry, "atom:published", NS),
    }


_A = "{" + NS["atom"] + "}"
_RSS = _Shape(2, "item", "title", "description", "pubDate", "lastBuildDate", _rss_fields)
_ATOM = _Shape(1, _A + "entry", _A + "title", _A + "subtitle", None, _A + "updated", _atom_fields)


def _stream(
    stream: XmlStream, page: FeedPage, number: int, source: str, shape: _Shape
) -> Iterator[Item]:
    head: dict[str, str | None] = {}
    observed = None
    for elem in stream.children(shape.depth, shape.item):
        if elem.tag != shape.item:  # feed-level fields come before the items
            head.setdefault(str(elem.tag), clean_text("".join(elem.itertext())))
            continue
        if not head.get("checked"):
            _check_error(head.get(shape.title), head.get(shape.message), source)
            head["checked"] = "yes"
            if shape.announced:
                page.announced = _feed_date(head.get(shape.announced))
            observed = feed_datetime(head.get(shape.observed))
        item = _make_record(elem, shape.fields(elem), number, page.announced, observed, source)
        if shape.depth == 1 and page.announced is None and isinstance(item, PaperRecord):
            page.announced = item.announced
        yield item
        number += 1
    if not head.get("checked"):
        _check_error(head.get(shape.title), head.get(shape.message), source)
        if shape.announced:
            page.announced = _feed_date(head.get(shape.announced))


def _feed_date(value: str | None) -> date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


def _check_error(title: str | None, message: str | None, source: str) -> None:
    if title and title.lower().startswith("feed error"):
        raise SourceError(f"{source}: arXiv feed error: {message or title}")


def _make_record(
    item: etree._Element,
    fields: dict[str, Any],
    number: int,
    announced: date | None,
    observed: datetime | None,
    source: str,
) -> Item:
    parsed = arxiv_id_or_error(fields["id"], source, number)
    if isinstance(parsed, RecordError):
        return parsed
    paper_id, version = parsed
    title = one_line(fields["title"])
    if not title:
        return RecordError(source, "missing <title>", number, fields["id"])
    match = _DESCRIPTION.match(fields["description"] or "")
    abstract = (match.group("abstract") if match else fields["description"]) or None
    announce_type = xml_text(item, "arxiv:announce_type", NS) or (
        match.group("type") if match else None
    )
    try:
        announced = parse_date(fields["date"]) or announced
    except ValueError as exc:
        return RecordError(source, str(exc), number, fields["id"])
    categories = arxiv_categories(fields["categories"])
    record = PaperRecord(
        source=source,
        id=paper_id,
        version=version,
        title=title,
        abstract=abstract.strip() if abstract else None,
        authors=[Author(n, a) for n, a in split_author_string(xml_text(item, "dc:creator", NS))],
        primary_category=categories[0] if categories else None,  # arXiv lists the primary first
        categories=categories,
        announced=announced,
        doi=xml_text(item, "arxiv:DOI", NS),
        journal_ref=xml_text(item, "arxiv:journal_reference", NS),
        license=xml_text(item, "dc:rights", NS),
        abs_url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        announce_type=announce_type,
        observed_at=observed,
    )
    return checked(record, number, fields["id"])


class ArxivRSSSource:
    """Today's announcements for categories (`cs`, `cs.CV`, `cs+math`), one request, one page."""

    name = NAME

    def __init__(
        self,
        categories: Sequence[str],
        *,
        base_url: str = "https://rss.arxiv.org",
        feed: str = "rss",
        client: HttpClient | None = None,
    ) -> None:
        parts = [p for c in categories for p in c.replace(",", "+").split("+") if p.strip()]
        if not parts:
            raise SourceError(f"{NAME}: give at least one category, e.g. cs or cs.CV")
        if feed not in ("rss", "atom"):
            raise SourceError(f"{NAME}: feed must be 'rss' or 'atom', not {feed!r}")
        self.categories = [p.strip() for p in parts]
        self.url = f"{base_url.rstrip('/')}/{feed}/{'+'.join(self.categories)}"
        self.client = client or HttpClient(source=NAME)
        self.announced: date | None = None

    @classmethod
    def from_settings(
        cls, settings: Any, categories: Sequence[str], **options: Any
    ) -> ArxivRSSSource:
        """A feed reader using the configured base URL, timeout and retries."""
        client = HttpClient.from_settings(settings, source=NAME)
        return cls(categories, base_url=settings.arxiv_rss_url, client=client, **options)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """One page: the current feed (the checkpoint is unused: a feed is read whole)."""
        response = self.client.get(self.url, accept=(400, 404))
        if not response.is_success:
            try:
                parse_feed(response.content)  # arXiv's error feed carries the reason
            except SourceError as exc:
                if "feed error" in str(exc):
                    raise
            raise SourceError(f"{NAME}: HTTP {response.status_code} from {self.url}")
        page = parse_feed(response.content)
        self.announced = page.announced
        yield Page(items=page.items, checkpoint=None, done=True)
