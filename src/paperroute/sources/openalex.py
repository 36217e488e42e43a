"""OpenAlex works (api.openalex.org/works): by filter with cursor paging, or by DOI.

The abstract is rebuilt from `abstract_inverted_index`; concepts, topics and keywords become
keywords; an arXiv location (landing page on arxiv.org) gives the arXiv id. The API key setting
is sent as `api_key`; `mailto` joins the polite pool.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import feed_datetime
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
    normalise_doi,
    safe_record,
    text_of,
)

NAME = "openalex"
PUBLICATION_TYPES = {
    "article": "journal",
    "preprint": "preprint",
    "proceedings-article": "proceedings",
}
MAX_ABSTRACT_WORDS = 20_000


@dataclass
class WorksPage:
    """What one OpenAlex response held."""

    items: list[Item] = field(default_factory=list)
    next_cursor: str | None = None
    total: int | None = None


def parse_works(content: bytes, *, first_record: int = 1, source: str = NAME) -> WorksPage:
    """Parse a `/works` list (`meta` + `results`) or a single work; an error body raises."""
    body = mapping(load_json(content, source))
    if "error" in body:
        raise SourceError(
            f"{source}: OpenAlex refused the request: {text_of(body.get('error'))}: "
            f"{text_of(body.get('message')) or ''}".rstrip(": ")
        )
    if "results" not in body:
        if "id" in body:
            return WorksPage([record_from_work(body, first_record, source)], total=1)
        raise SourceError(f"{source}: not an OpenAlex works response")
    meta = mapping(body.get("meta"))
    items = [
        record_from_work(w, n, source)
        for n, w in enumerate(listing(body.get("results")), start=first_record)
    ]
    cursor = meta.get("next_cursor")
    return WorksPage(items, cursor if isinstance(cursor, str) else None, int_of(meta.get("count")))


def record_from_work(work: Any, number: int, source: str = NAME) -> Item:
    """One OpenAlex work as a record (RecordError naming it when unusable)."""
    label = text_of(mapping(work).get("id"))
    return safe_record(lambda w, n: _record(w, n, source), work, number, source, label)


def _record(work: Mapping[str, Any], number: int, source: str) -> Item:
    if not isinstance(work, dict):
        return RecordError(source, "work is not a JSON object", number)
    ids = mapping(work.get("ids"))
    primary = mapping(work.get("primary_location"))
    venue = mapping(primary.get("source"))
    biblio = mapping(work.get("biblio"))
    published = _date(text_of(work.get("publication_date")))
    year = int_of(work.get("publication_year"))
    doi = normalise_doi(work.get("doi") or ids.get("doi"))
    openalex_id = (text_of(work.get("id")) or "").rsplit("/", 1)[-1] or None
    record = PaperRecord(
        source=source,
        id="",
        title=markup_text(text_of(work.get("title")) or text_of(work.get("display_name"))),
        abstract=rebuild_abstract(work.get("abstract_inverted_index")),
        authors=_authors(work.get("authorships")),
        published=datetime(published.year, published.month, published.day, tzinfo=UTC)
        if published
        else None,
        announced=published,
        doi=doi,
        license=text_of(primary.get("license")),
        abs_url=text_of(primary.get("landing_page_url"))
        or (f"https://doi.org/{doi}" if doi else None),
        pdf_url=text_of(primary.get("pdf_url")),
        keywords=_keywords(work),
        observed_at=feed_datetime(text_of(work.get("updated_date"))),
        identifiers=identifiers_of(
            doi=doi,
            openalex=openalex_id,
            pmid=_tail(ids.get("pmid")),
            pmcid=_pmcid(ids.get("pmcid")),
            arxiv=_arxiv_location(work.get("locations")),
        ),
        venue=text_of(venue.get("display_name")),
        year=year or (published.year if published else None),
        publication_type=PUBLICATION_TYPES.get(
            text_of(work.get("type")) or "", text_of(work.get("type"))
        ),
        issn=text_of(venue.get("issn_l")) or text_of(venue.get("issn")),
        volume=text_of(biblio.get("volume")),
        issue=text_of(biblio.get("issue")),
        pages=_pages(biblio),
        citation_count=int_of(work.get("cited_by_count")),
    )
    return finish_record(record, number, doi or openalex_id)


def rebuild_abstract(index: Any) -> str | None:
    """The abstract text from OpenAlex's inverted index {word: [positions]}."""
    if not isinstance(index, dict) or not index:
        return None
    slots: dict[int, str] = {}
    for word, positions in index.items():
        for pos in listing(positions):
            if int_of(pos) is not None and 0 <= pos < MAX_ABSTRACT_WORDS:
                slots[pos] = str(word)
    return " ".join(slots[i] for i in sorted(slots)) or None


def _authors(value: Any) -> list[Author]:
    out = []
    for authorship in listing(value):
        authorship = mapping(authorship)
        name = text_of(mapping(authorship.get("author")).get("display_name")) or text_of(
            authorship.get("raw_author_name")
        )
        if name:
            places = [
                text_of(mapping(i).get("display_name"))
                for i in listing(authorship.get("institutions"))
            ]
            out.append(Author(name, [p for p in places if p]))
    return out


def _keywords(work: Mapping[str, Any]) -> list[str]:
    names = []
    for key in ("topics", "concepts", "keywords"):
        names += [text_of(mapping(x).get("display_name")) for x in listing(work.get(key))]
    return list(dict.fromkeys(n for n in names if n))


def _arxiv_location(locations: Any) -> str | None:
    for loc in listing(locations):
        url = text_of(mapping(loc).get("landing_page_url")) or ""
        if "arxiv.org/" in url and (found := arxiv_from(url)):
            return found
    return None


def _tail(value: Any) -> str | None:
    text = text_of(value)
    return text.rstrip("/").rsplit("/", 1)[-1] if text else None


def _pmcid(value: Any) -> str | None:
    tail = _tail(value)
    if not tail:
        return None
    return tail if tail.upper().startswith("PMC") else f"PMC{tail}"


def _pages(biblio: Mapping[str, Any]) -> str | None:
    first, last = text_of(biblio.get("first_page")), text_of(biblio.get("last_page"))
    return f"{first}-{last}" if first and last and first != last else first


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


class OpenAlexSource:
    """OpenAlex works by filter (cursor-paged, resumable) or by DOI."""

    name = NAME

    def __init__(
        self,
        *,
        filters: Mapping[str, str] | None = None,
        dois: Sequence[str] = (),
        api_key: str | None = None,
        mailto: str | None = None,
        per_page: int = 100,
        max_results: int | None = None,
        base_url: str = "https://api.openalex.org",
        client: HttpClient | None = None,
    ) -> None:
        if bool(filters) == bool(dois):
            raise SourceError(f"{NAME}: give a filter or DOIs (one of them)")
        if not 1 <= per_page <= 200:
            raise SourceError(f"{NAME}: per_page must be 1..200, not {per_page}")
        self.filters = dict(filters or {})
        self.dois = [d for d in (normalise_doi(x) for x in dois) if d]
        self.api_key, self.mailto = api_key, mailto
        self.per_page, self.max_results = per_page, max_results
        self.base_url = base_url.rstrip("/")
        self.client = client or HttpClient(source=NAME)

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> OpenAlexSource:
        """A source using the configured endpoint, API key, mailto, timeout and retries."""
        client = HttpClient.from_settings(
            settings, source=NAME, min_interval=settings.openalex_delay
        )
        key = settings.openalex_api_key.get_secret_value() if settings.openalex_api_key else None
        options.setdefault("api_key", key or None)
        options.setdefault("mailto", settings.crossref_mailto or None)
        return cls(base_url=settings.openalex_url, client=client, **options)

    def _auth(self) -> dict[str, str]:
        params = {"api_key": self.api_key} if self.api_key else {}
        return {**params, "mailto": self.mailto} if self.mailto else params

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """A page per cursor (checkpoint {"cursor", "seen"}), or one request per DOI."""
        if self.dois:
            yield from self._by_doi(int((checkpoint or {}).get("done", 0)))
            return
        state = dict(checkpoint or {"cursor": "*", "seen": 0})
        while True:
            params = {
                "filter": ",".join(f"{k}:{v}" for k, v in self.filters.items()),
                "per-page": self.per_page,
                "cursor": state["cursor"],
                **self._auth(),
            }
            response = self.client.get(f"{self.base_url}/works", params, accept=(400, 403))
            if not response.is_success:
                parse_works(response.content)  # OpenAlex's error body says why
                raise SourceError(f"{NAME}: HTTP {response.status_code} from {response.url}")
            page = parse_works(response.content, first_record=state["seen"] + 1)
            state = {"cursor": page.next_cursor, "seen": state["seen"] + len(page.items)}
            done = (
                not page.items
                or not page.next_cursor
                or (self.max_results is not None and state["seen"] >= self.max_results)
            )
            yield Page(items=page.items, checkpoint=state, done=done)
            if done:
                return

    def _by_doi(self, done: int) -> Iterator[Page]:
        for number, doi in enumerate(self.dois[done:], start=done + 1):
            url = f"{self.base_url}/works/https://doi.org/{quote(doi, safe='')}"
            response = self.client.get(url, self._auth(), accept=(404,))
            if response.status_code == 404:
                items: list[Item] = [RecordError(NAME, "OpenAlex has no such DOI", number, doi)]
            else:
                items = parse_works(response.content, first_record=number).items
            yield Page(items=items, checkpoint={"done": number}, done=number == len(self.dois))
