"""arXiv new-listing feeds from rss.arxiv.org, RSS 2.0 and Atom, for one or more categories.

Each item becomes a record with its announce type (new, cross, replace, replace-cross) and the
announcement date of the feed. A day without announcements is an empty feed: no records, no
error. arXiv's error feed (e.g. for an unknown archive) becomes a SourceError with its message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lxml import etree

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import (
    abs_url,
    arxiv_categories,
    arxiv_id_or_error,
    one_line,
    parse_date,
    parse_datetime,
    parse_xml,
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
    root = parse_xml(content, source)
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise SourceError(f"{source}: RSS feed without a <channel>")
        return _parse_rss(channel, first_record, source)
    if root.tag == f"{{{NS['atom']}}}feed":
        return _parse_atom(root, first_record, source)
    raise SourceError(f"{source}: not an RSS or Atom feed (root element {root.tag!r})")


def _check_error(title: str | None, message: str | None, source: str) -> None:
    if title and title.lower().startswith("feed error"):
        raise SourceError(f"{source}: arXiv feed error: {message or title}")


def _parse_rss(channel: etree._Element, first: int, source: str) -> FeedPage:
    _check_error(xml_text(channel, "title", {}), xml_text(channel, "description", {}), source)
    announced = parse_date(xml_text(channel, "pubDate", {}))
    observed = parse_datetime(xml_text(channel, "lastBuildDate", {}))
    page = FeedPage(announced=announced)
    for number, item in enumerate(channel.iterfind("item"), start=first):
        fields = {
            "id": xml_text(item, "guid", {}) or xml_text(item, "link", {}),
            "title": xml_text(item, "title", {}),
            "description": xml_text(item, "description", {}),
            "categories": [c.text or "" for c in item.iterfind("category")],
            "date": xml_text(item, "pubDate", {}),
        }
        page.items.append(_make_record(item, fields, number, announced, observed, source))
    return page


def _parse_atom(root: etree._Element, first: int, source: str) -> FeedPage:
    _check_error(xml_text(root, "atom:title", NS), xml_text(root, "atom:subtitle", NS), source)
    observed = parse_datetime(xml_text(root, "atom:updated", NS))
    page = FeedPage()
    for number, entry in enumerate(root.iterfind("atom:entry", NS), start=first):
        fields = {
            "id": xml_text(entry, "atom:id", NS),
            "title": xml_text(entry, "atom:title", NS),
            "description": xml_text(entry, "atom:summary", NS),
            "categories": [c.get("term", "") for c in entry.iterfind("atom:category", NS)],
            "date": xml_text(entry, "atom:published", NS),
        }
        page.items.append(_make_record(entry, fields, number, None, observed, source))
        if page.announced is None and isinstance(page.items[-1], PaperRecord):
            page.announced = page.items[-1].announced
    return page


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
    return PaperRecord(
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
