"""bioRxiv and medRxiv: subject RSS feeds (connect.biorxiv.org) and the `details` API.

Feeds are RSS 1.0 read by `sources.feeds`; each item is a preprint keyed by its DOI
(10.1101/...), also its `biorxiv` identifier. The details API (api.biorxiv.org/details/<server>/
<from>/<until>/<cursor>) pages 100 preprints at a time; the checkpoint is the next cursor. No real
details response was available: its shape follows the public documentation at api.biorxiv.org.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.feeds import FeedInfo, stream_feed
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

SERVERS = ("biorxiv", "medrxiv")
FEED_URL = "https://connect.biorxiv.org/{server}_xml.php?subject={subject}"
PAGE_SIZE = 100  # the details API's fixed page size


def feed_items(content: bytes, server: str = "biorxiv") -> list[Item]:
    """The preprints of a subject feed held in memory."""
    return list(stream_feed_items(io.BytesIO(content), server))


def stream_feed_items(fh: IO[bytes], server: str = "biorxiv") -> Iterator[Item]:
    """The preprints of a saved or fetched subject feed, each with its `biorxiv` identifier."""
    for item in stream_feed(fh, FeedInfo(), source=server):
        if isinstance(item, PaperRecord) and item.doi:
            item.identifiers["biorxiv"] = item.doi
            item.venue = "medRxiv" if server == "medrxiv" else "bioRxiv"
        yield item


@dataclass
class DetailsPage:
    """What one details response held."""

    items: list[Item] = field(default_factory=list)
    count: int = 0
    total: int | None = None


def parse_details(content: bytes, *, first_record: int = 1, server: str = "biorxiv") -> DetailsPage:
    """Parse a details response; "no posts found" is an empty page, other statuses raise."""
    body = mapping(load_json(content, server))
    messages = [mapping(m) for m in listing(body.get("messages"))]
    if not messages and "collection" not in body:
        raise SourceError(f"{server}: not a details API response")
    status = text_of(messages[0].get("status")) if messages else "ok"
    if status != "ok":
        if status and status.startswith("no posts found"):
            return DetailsPage()
        raise SourceError(f"{server}: the details API said: {status}")
    collection = listing(body.get("collection"))
    items = [record_from_detail(d, n, server) for n, d in enumerate(collection, start=first_record)]
    head = messages[0] if messages else {}
    return DetailsPage(
        items, _number(head.get("count")) or len(collection), _number(head.get("total"))
    )


def _number(value: Any) -> int | None:
    """The API gives counts as numbers or as strings ("1287")."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return int_of(value)


def record_from_detail(detail: Any, number: int, server: str = "biorxiv") -> Item:
    """One details entry as a record (RecordError naming it when unusable)."""
    label = text_of(mapping(detail).get("doi"))
    return safe_record(lambda d, n: _record(d, n, server), detail, number, server, label)


def _record(detail: Mapping[str, Any], number: int, server: str) -> Item:
    if not isinstance(detail, dict):
        return RecordError(server, "entry is not a JSON object", number)
    doi = normalise_doi(detail.get("doi"))
    if not doi:
        return RecordError(server, "missing doi", number, text_of(detail.get("doi")))
    day = _day(text_of(detail.get("date")))
    version = text_of(detail.get("version"))
    host = "www.medrxiv.org" if server == "medrxiv" else "www.biorxiv.org"
    record = PaperRecord(
        source=server,
        id="",
        title=markup_text(text_of(detail.get("title"))),
        abstract=markup_text(text_of(detail.get("abstract"))),
        authors=_authors(text_of(detail.get("authors"))),
        published=datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None,
        announced=day,
        doi=doi,
        license=text_of(detail.get("license")),
        abs_url=f"https://{host}/content/{doi}v{version}" if version else f"https://doi.org/{doi}",
        keywords=[k for k in [text_of(detail.get("category"))] if k],
        identifiers=identifiers_of(doi=doi, biorxiv=doi),
        venue="medRxiv" if server == "medrxiv" else "bioRxiv",
        year=day.year if day else None,
        publication_type="preprint",
    )
    return finish_record(record, number, doi)


def _authors(text: str | None) -> list[Author]:
    """bioRxiv lists authors as "Surname, I.; Other, B." (semicolons between people)."""
    return [Author(n.strip()) for n in (text or "").split(";") if n.strip()]


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


class BiorxivFeedSource:
    """A bioRxiv or medRxiv subject feed: one request, one page."""

    def __init__(
        self,
        subject: str,
        *,
        server: str = "biorxiv",
        url: str | None = None,
        client: HttpClient | None = None,
    ) -> None:
        if server not in SERVERS:
            raise SourceError(f"biorxiv: server must be biorxiv or medrxiv, not {server!r}")
        self.name = server
        self.url = url or FEED_URL.format(server=server, subject=subject)
        self.client = client or HttpClient(source=server)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """The feed's current items (the checkpoint is unused)."""
        yield Page(items=feed_items(self.client.get(self.url).content, self.name), done=True)


class BiorxivDetailsSource:
    """Preprints posted between two dates, from the details API, cursor-paged and resumable."""

    def __init__(
        self,
        start: date,
        end: date,
        *,
        server: str = "biorxiv",
        base_url: str = "https://api.biorxiv.org",
        client: HttpClient | None = None,
    ) -> None:
        if server not in SERVERS:
            raise SourceError(f"biorxiv: server must be biorxiv or medrxiv, not {server!r}")
        if end < start:
            raise SourceError(f"{server}: the end date {end} is before the start date {start}")
        self.name, self.start, self.end = server, start, end
        self.base_url = base_url.rstrip("/")
        self.client = client or HttpClient(source=server)

    @classmethod
    def from_settings(
        cls, settings: Any, start: date, end: date, **options: Any
    ) -> BiorxivDetailsSource:
        """A details reader with the configured endpoint, delay, timeout and retries."""
        server = options.get("server", "biorxiv")
        client = HttpClient.from_settings(
            settings, source=server, min_interval=settings.biorxiv_delay
        )
        return cls(start, end, base_url=settings.biorxiv_api_url, client=client, **options)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """A page per 100 preprints; checkpoint {"cursor": n}."""
        cursor = int((checkpoint or {}).get("cursor", 0))
        while True:
            url = f"{self.base_url}/details/{self.name}/{self.start}/{self.end}/{cursor}/json"
            page = parse_details(
                self.client.get(url).content, first_record=cursor + 1, server=self.name
            )
            cursor += page.count
            done = not page.items or page.total is None or cursor >= page.total
            yield Page(items=page.items, checkpoint={"cursor": cursor}, done=done)
            if done:
                return
