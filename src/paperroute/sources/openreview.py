"""OpenReview API v2 (api2.openreview.net): a venue's accepted papers with their decisions.

Accepted papers carry `content.venueid` = the venue id (ICLR.cc/2024/Conference); their
`content.venue` ("ICLR 2024 oral") gives the decision, kept as the track (oral, spotlight,
poster). Each note is keyed by its forum id, with the forum link. When credentials are
configured the source signs in (POST /login) and sends the token, which the API demands for
some venues and for higher rate limits. No real API response was available: the shape follows
the public API v2 documentation (docs.openreview.net, "Using the API").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.http import HttpClient
from paperroute.sources.scholarly import (
    arxiv_from,
    finish_record,
    identifiers_of,
    int_of,
    listing,
    load_json,
    mapping,
    markup_text,
    safe_record,
    text_of,
)

NAME = "openreview"
DECISIONS = ("oral", "spotlight", "poster", "highlight", "notable-top-5%", "notable-top-25%")
_VENUE_YEAR = re.compile(r"^(?P<venue>.*?)\s*(?P<year>(?:19|20)\d\d)\b\s*(?P<rest>.*)$")


@dataclass
class NotesPage:
    """What one /notes response held."""

    items: list[Item] = field(default_factory=list)
    count: int | None = None
    size: int = 0


def _value(content: Mapping[str, Any], key: str) -> Any:
    """API v2 wraps each content field as {"value": ...}; API v1 did not."""
    found = content.get(key)
    return found.get("value") if isinstance(found, dict) else found


def parse_notes(
    content: bytes, *, first_record: int = 1, site: str = "https://openreview.net"
) -> NotesPage:
    """Parse a /notes response; an error body ({"name": ..., "message": ...}) raises."""
    body = mapping(load_json(content, NAME))
    if "notes" not in body:
        reason = (
            text_of(body.get("message")) or text_of(body.get("name")) or "no notes in the reply"
        )
        raise SourceError(f"{NAME}: OpenReview said: {reason}")
    notes = listing(body.get("notes"))
    items = [record_from_note(n, i, site) for i, n in enumerate(notes, start=first_record)]
    return NotesPage(items, int_of(body.get("count")), len(notes))


def record_from_note(note: Any, number: int, site: str = "https://openreview.net") -> Item:
    """One accepted submission as a record (RecordError naming it when unusable)."""
    label = text_of(mapping(note).get("forum")) or text_of(mapping(note).get("id"))
    return safe_record(lambda n, i: _record(n, i, site), note, number, NAME, label)


def _record(note: Mapping[str, Any], number: int, site: str) -> Item:
    if not isinstance(note, dict):
        return RecordError(NAME, "note is not a JSON object", number)
    forum = text_of(note.get("forum")) or text_of(note.get("id"))
    if not forum:
        return RecordError(NAME, "note without forum id", number)
    content = mapping(note.get("content"))
    venue_text = text_of(_value(content, "venue")) or ""
    venue, year, decision = split_venue(venue_text)
    when = _millis(note.get("pdate")) or _millis(note.get("cdate"))
    pdf = text_of(_value(content, "pdf"))
    record = PaperRecord(
        source=NAME,
        id="",
        title=markup_text(text_of(_value(content, "title"))),
        abstract=markup_text(text_of(_value(content, "abstract"))),
        authors=[Author(a) for a in (text_of(x) for x in listing(_value(content, "authors"))) if a],
        published=when,
        announced=when.date() if when else None,
        abs_url=f"{site}/forum?id={forum}",
        pdf_url=f"{site}{pdf}" if pdf and pdf.startswith("/") else pdf,
        code_url=text_of(_value(content, "code")),
        keywords=[k for k in (text_of(x) for x in listing(_value(content, "keywords"))) if k],
        identifiers=identifiers_of(
            openreview=forum, arxiv=arxiv_from(text_of(_value(content, "arxiv")))
        ),
        venue=venue or text_of(_value(content, "venueid")),
        year=year or (when.year if when else None),
        track=decision,
        publication_type="proceedings",
        tldr=text_of(_value(content, "TLDR")) or text_of(_value(content, "TL;DR")),
    )
    return finish_record(record, number, forum)


def split_venue(text: str) -> tuple[str | None, int | None, str | None]:
    """("ICLR", 2024, "oral") from "ICLR 2024 oral"; the decision is None when not one we know."""
    match = _VENUE_YEAR.match(text.strip())
    if not match:
        return (text.strip() or None), None, None
    rest = match.group("rest").strip().lower()
    decision = next((d for d in DECISIONS if d in rest), None)
    return match.group("venue").strip() or None, int(match.group("year")), decision


def _millis(value: Any) -> datetime | None:
    number = int_of(value)
    if number is None or not 0 < number < 10**14:
        return None
    return datetime.fromtimestamp(number / 1000, tz=UTC)


class OpenReviewSource:
    """A venue's accepted papers (content.venueid = venue id), offset-paged and resumable."""

    name = NAME

    def __init__(
        self,
        venue_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        limit: int = 1000,
        base_url: str = "https://api2.openreview.net",
        site_url: str = "https://openreview.net",
        client: HttpClient | None = None,
    ) -> None:
        if not venue_id.strip() or "/" not in venue_id:
            raise SourceError(
                f"{NAME}: give a venue id such as ICLR.cc/2024/Conference, not {venue_id!r}"
            )
        self.venue_id, self.username, self.password = venue_id.strip(), username, password
        self.limit = limit
        self.base_url, self.site_url = base_url.rstrip("/"), site_url.rstrip("/")
        self.client = client or HttpClient(source=NAME, min_interval=1.0)
        self._headers: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Any, venue_id: str, **options: Any) -> OpenReviewSource:
        """A source with the configured endpoint and credentials."""
        password = (
            settings.openreview_password.get_secret_value()
            if settings.openreview_password
            else None
        )
        client = HttpClient.from_settings(settings, source=NAME, min_interval=1.0)
        return cls(
            venue_id,
            username=settings.openreview_username or None,
            password=password or None,
            base_url=settings.openreview_url,
            client=client,
            **options,
        )

    def _sign_in(self) -> None:
        if not (self.username and self.password) or self._headers:
            return
        reply = self.client.post(
            f"{self.base_url}/login",
            {"id": self.username, "password": self.password},
            accept=(400, 401, 403),
        )
        token = (
            text_of(mapping(load_json(reply.content, NAME)).get("token"))
            if reply.is_success
            else None
        )
        if not token:
            raise SourceError(
                f"{NAME}: sign-in as {self.username} refused (HTTP {reply.status_code})"
            )
        self._headers = {"Authorization": f"Bearer {token}"}

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """A page per `limit` notes; checkpoint {"offset": n}."""
        self._sign_in()
        offset = int((checkpoint or {}).get("offset", 0))
        while True:
            params = {"content.venueid": self.venue_id, "offset": offset, "limit": self.limit}
            reply = self.client.get(
                f"{self.base_url}/notes", params, accept=(400, 403), headers=self._headers
            )
            page = parse_notes(reply.content, first_record=offset + 1, site=self.site_url)
            if not reply.is_success:
                raise SourceError(f"{NAME}: HTTP {reply.status_code} from {reply.url}")
            offset += page.size
            done = page.size < self.limit or (page.count is not None and offset >= page.count)
            yield Page(items=page.items, checkpoint={"offset": offset}, done=done)
            if done:
                return
