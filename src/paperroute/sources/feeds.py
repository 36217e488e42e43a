"""Any journal's RSS 1.0 (RDF), RSS 2.0 or Atom table-of-contents feed, with `prism:` and `dc:`.

Elements are matched by local name, because publishers bind the same RSS 1.0 elements with and
without a prefix (Atypon writes `rss:item`, bioRxiv a default namespace). Each item becomes a
record keyed by its DOI (`prism:doi`, `dc:identifier doi:...`, or a DOI in its link), or the
arXiv id of an arXiv link; an item without either is rejected by number, since nothing would
name the paper again next time. `prism:volume`, `prism:number` and `prism:startingPage` /
`endingPage` give volume, issue and pages. Read with the project's XmlStream (bounded memory,
no entities, leading blank lines allowed) rather than feedparser, which loads the whole
document and resolves nothing we need.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from lxml import etree

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, SourceError
from paperroute.sources.common import XmlStream, feed_datetime, one_line, split_author_string
from paperroute.sources.http import HttpClient
from paperroute.sources.scholarly import (
    arxiv_from,
    element_text,
    finish_record,
    identifiers_of,
    markup_text,
    normalise_doi,
)

NAME = "journal-feed"
_FEED_TAGS = {"RDF": 1, "rss": 2, "feed": 1}  # root local name -> depth of the items


@dataclass
class FeedInfo:
    """Feed-level facts: its title and the journal it is the table of contents of."""

    title: str | None = None
    journal: str | None = None
    link: str | None = None
    items: list[Item] = field(default_factory=list)


def _local(elem: etree._Element) -> str:
    return etree.QName(elem.tag).localname if isinstance(elem.tag, str) else ""


def _children(elem: etree._Element) -> dict[str, list[etree._Element]]:
    found: dict[str, list[etree._Element]] = {}
    for child in elem:
        if isinstance(child.tag, str):
            found.setdefault(_local(child), []).append(child)
    return found


def _first(parts: dict[str, list[etree._Element]], *names: str) -> str | None:
    for name in names:
        for elem in parts.get(name, []):
            text = element_text(elem)
            if text:
                return text
    return None


def _link(parts: dict[str, list[etree._Element]]) -> str | None:
    for elem in parts.get("link", []):
        href = elem.get("href")
        if href and elem.get("rel", "alternate") == "alternate":
            return href.strip()
        if (elem.text or "").strip():
            return elem.text.strip()
    return None


def parse_feed(content: bytes, *, source: str = NAME) -> FeedInfo:
    """Parse a whole feed held in memory."""
    info = FeedInfo()
    info.items = list(stream_feed(io.BytesIO(content), info, source=source))
    return info


def stream_feed(fh: IO[bytes], info: FeedInfo, *, source: str = NAME) -> Iterator[Item]:
    """Yield a feed's items as they are read, filling `info` with the feed-level fields."""
    stream = XmlStream(fh, source)
    root = stream.root()
    depth = _FEED_TAGS.get(_local(root))
    if depth is None:
        raise SourceError(
            f"{source}: not an RSS or Atom feed (root element {_local(root)!r}): {stream.head!r}"
        )
    return _items(stream, depth, info, source)


def _items(stream: XmlStream, depth: int, info: FeedInfo, source: str) -> Iterator[Item]:
    number = 0
    for elem in stream.children(depth, "item"):
        name = _local(elem)
        if name in ("item", "entry"):
            number += 1
            yield record_from_item(elem, number, info, source)
        elif name == "channel":  # RSS 1.0: the channel is a sibling of the items
            _channel(_children(elem), info)
        elif depth == 2 or name in ("title", "link"):  # RSS 2.0 channel / Atom feed fields
            _channel({name: [elem]}, info)


def _channel(parts: dict[str, list[etree._Element]], info: FeedInfo) -> None:
    info.title = info.title or _first(parts, "title")
    info.journal = info.journal or _first(parts, "publicationName")
    info.link = info.link or _link(parts)


def record_from_item(item: etree._Element, number: int, info: FeedInfo, source: str) -> Item:
    """One feed item as a record, keyed by arXiv id or DOI; RecordError naming it if unusable."""
    parts = _children(item)
    link = _link(parts) or item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
    doi = normalise_doi(_first(parts, "doi")) or _dc_doi(parts) or normalise_doi(_doi_in(link))
    label = doi or link or f"item {number}"
    when = _when(
        _first(parts, "coverDate", "publicationDate", "date", "pubDate", "published", "updated")
    )
    first_page, last_page = _first(parts, "startingPage"), _first(parts, "endingPage")
    record = PaperRecord(
        source=source,
        id="",
        title=_first(parts, "title"),
        abstract=_abstract(parts),
        authors=_authors(parts),
        published=when,
        announced=when.date() if when else None,
        doi=doi,
        license=_first(parts, "rights", "copyright"),
        abs_url=link,
        keywords=[k for k in (element_text(e) for e in parts.get("category", [])) if k],
        identifiers=identifiers_of(doi=doi, arxiv=arxiv_from(link)),
        venue=_first(parts, "source") or info.journal or info.title,
        year=when.year if when else None,
        publication_type="journal" if source == NAME else "preprint",
        issn=_first(parts, "issn", "eIssn"),
        volume=_first(parts, "volume"),
        issue=_first(parts, "number", "issue"),
        pages=f"{first_page}-{last_page}" if first_page and last_page else first_page,
    )
    return finish_record(record, number, label)


def _dc_doi(parts: dict[str, list[etree._Element]]) -> str | None:
    for elem in parts.get("identifier", []):
        if doi := normalise_doi(element_text(elem)):
            return doi
    return None


def _doi_in(link: str | None) -> str | None:
    if link and "/doi/" in link:  # Atypon: .../doi/abs/10.2105/AJPH.2014.302274?af=R
        tail = link.split("/doi/", 1)[1].split("?", 1)[0]
        return tail.split("/", 1)[1] if tail.split("/", 1)[0] in ("abs", "full", "pdf") else tail
    return None


def _abstract(parts: dict[str, list[etree._Element]]) -> str | None:
    for name in ("description", "summary", "encoded", "content"):
        for elem in parts.get(name, []):
            text = (
                markup_text(element_text(elem))
                if elem.text and "<" in elem.text
                else element_text(elem)
            )
            if text:
                return text
    return None


def _authors(parts: dict[str, list[etree._Element]]) -> list[Author]:
    names = []
    for elem in parts.get("creator", []) + parts.get("author", []):
        inner = _children(elem)
        text = _first(inner, "name") if inner else element_text(elem)
        if not text:
            continue
        if pairs := _surname_initials(text):  # bioRxiv: "Kaur, M., Shukla, V." or "Kaur, M."
            names += [Author(n) for n in pairs]
        elif len(parts.get("creator", [])) > 1 or inner:
            names.append(Author(one_line(text) or text))
        else:  # one dc:creator holding the whole list ("A. One, B. Two")
            names += [Author(n, a) for n, a in split_author_string(text)]
    return names


_INITIALS = re.compile(r"(?:[A-Z][a-z]?\.?[\s-]*)+")


def _surname_initials(text: str) -> list[str] | None:
    """Names from "Surname, I., Other, A. B." (every second part initials), else None."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 2 or len(parts) % 2 or not all(_INITIALS.fullmatch(p) for p in parts[1::2]):
        return None
    return [
        f"{initials} {surname}" for surname, initials in zip(parts[::2], parts[1::2], strict=True)
    ]


def _when(value: str | None) -> datetime | None:
    found = feed_datetime(value)
    return found.astimezone(UTC) if found else None


class JournalFeedSource:
    """One journal feed by URL: one request, one page (a feed is read whole)."""

    def __init__(self, url: str, *, name: str = NAME, client: HttpClient | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise SourceError(
                f"{name}: a feed URL starts with http:// or https://, not {url[:80]!r}"
            )
        self.url, self.name = url, name
        self.client = client or HttpClient(source=name)
        self.info: FeedInfo | None = None

    @classmethod
    def from_settings(cls, settings: Any, url: str, **options: Any) -> JournalFeedSource:
        """A feed reader with the configured timeout and retries."""
        client = HttpClient.from_settings(settings, source=options.get("name", NAME))
        return cls(url, client=client, **options)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """The feed's items; the checkpoint is unused (a feed holds only its latest items)."""
        response = self.client.get(self.url)
        self.info = parse_feed(response.content, source=self.name)
        yield Page(items=self.info.items, checkpoint=None, done=True)
