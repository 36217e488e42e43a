"""Atom and JSON Feed for daily, trending, each category, venue and journal, each saved search
and each public collection.

Every feed URL ends in `.atom` or `.json`; the papers come from the same listing code the pages use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from paperroute.models import Paper, paper_path
from paperroute.params import RowId, Year
from paperroute.store import collections as coll_store
from paperroute.store import listings
from paperroute.web.deps import engine_of, render
from paperroute.web.feedlinks import saved_search_id
from paperroute.web.mathtext import plain_snippet
from paperroute.web.presenters import (
    journal_filter,
    org_or_404,
    run_search,
    search_params,
    trending_papers,
    union_filter,
    venue_filter,
)

router = APIRouter(prefix="/feeds")
FEED_SIZE = 50


def _feed(request: Request, fmt: str, title: str, page_url: str, papers: list[Paper]) -> Response:
    """Render papers as Atom (`atom`) or JSON Feed 1.1 (`json`)."""
    base = request.app.state.settings.base_url.rstrip("/")
    site = request.app.state.settings.site_name
    self_url = f"{base}{request.url.path}"
    if fmt == "json":
        return JSONResponse(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": f"{site}: {title}",
                "home_page_url": f"{base}{page_url}",
                "feed_url": self_url,
                "items": [_json_item(base, p) for p in papers],
            },
            media_type="application/feed+json",
        )
    if fmt != "atom":
        raise HTTPException(404, f"feed format {fmt!r}: use .atom or .json")
    updated = max((_when(p) for p in papers), default=datetime.now(UTC))
    xml = request.app.state.templates.get_template("feeds/atom.xml").render(
        title=f"{site}: {title}",
        self_url=self_url,
        page_url=f"{base}{page_url}",
        updated=updated,
        papers=papers,
        base=base,
        when=_when,
    )
    return Response(xml, media_type="application/atom+xml")


def _when(paper: Paper) -> datetime:
    if paper.published:
        return paper.published
    if paper.announced:
        return datetime.combine(paper.announced, datetime.min.time(), tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


def _external_url(paper: Paper) -> str | None:
    """Where the paper lives outside this site: arXiv, else its DOI."""
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    return f"https://doi.org/{paper.doi}" if paper.doi else None


def _json_item(base: str, paper: Paper) -> dict:
    return {
        "id": base + paper_path(paper.id),
        "url": base + paper_path(paper.id),
        "external_url": _external_url(paper),
        "title": paper.title,
        "content_text": paper.abstract,
        "summary": plain_snippet(paper.abstract, 300),
        "date_published": _when(paper).isoformat(),
        "authors": [{"name": n} for n in paper.author_names],
        "tags": paper.categories,
        "_paperroute": {"upvotes": paper.total_upvotes, "hf_upvotes": paper.hf_upvotes},
    }


@router.get("", name="feeds.index")
def index(request: Request) -> Response:
    """The list of feeds."""
    cats = listings.top_categories(engine_of(request), limit=50)
    public = coll_store.list_collections(engine_of(request), public_only=True)
    return render(request, "feeds/index.html", categories=cats, public=public)


@router.get("/orgs/{slug}.{fmt}", name="feeds.org")
def org(request: Request, slug: str, fmt: str) -> Response:
    """An organisation's newest papers."""
    found = org_or_404(request, slug)
    papers, _ = listings.list_papers(
        engine_of(request),
        listings.PaperFilter(organizations=found.names),
        order="published",
        limit=FEED_SIZE,
    )
    return _feed(request, fmt, f"papers of {found.name}", found.url, papers)


@router.get("/daily.{fmt}", name="feeds.daily")
def daily(request: Request, fmt: str) -> Response:
    """The newest day's papers, most upvoted first."""

    engine = engine_of(request)
    day = listings.latest_day(engine)
    papers: list[Paper] = []
    if day:
        papers, _ = listings.list_papers(
            engine, listings.PaperFilter(start=day, end=day), limit=FEED_SIZE
        )
    return _feed(request, fmt, "daily papers", "/", papers)


@router.get("/trending.{fmt}", name="feeds.trending")
def trending(request: Request, fmt: str) -> Response:
    """Trending papers."""
    return _feed(
        request, fmt, "trending papers", "/trending", [p for p, _ in trending_papers(request)]
    )


@router.get("/categories/{category}.{fmt}", name="feeds.category")
def category(request: Request, category: str, fmt: str) -> Response:
    """Newest papers in one category."""

    papers, _ = listings.list_papers(
        engine_of(request),
        union_filter(request, "category", category),
        order="published",
        limit=FEED_SIZE,
    )
    return _feed(request, fmt, f"papers in {category}", f"/categories/{category}", papers)


@router.get("/venues/{venue}/{year}.{fmt}", name="feeds.venue")
def venue_feed(request: Request, venue: str, year: Year, fmt: str) -> Response:
    """Newest papers of one venue and year."""
    flt = venue_filter(request, venue, year, None)
    papers, _ = listings.list_papers(engine_of(request), flt, order="published", limit=FEED_SIZE)
    title = f"papers in {venue} {year}"
    return _feed(request, fmt, title, f"/venues/{quote(venue)}/{year}", papers)


@router.get("/journals/{issn}.{fmt}", name="feeds.journal")
def journal_feed(request: Request, issn: str, fmt: str) -> Response:
    """Newest articles of one journal (or a union of journals, as on its page)."""
    flt, heading = journal_filter(request, issn)
    papers, _ = listings.list_papers(engine_of(request), flt, order="published", limit=FEED_SIZE)
    return _feed(request, fmt, f"articles in {heading}", f"/journals/{quote(issn.upper())}", papers)


@router.get("/collections/{collection_id}.{fmt}", name="feeds.collection")
def collection(request: Request, collection_id: RowId, fmt: str) -> Response:
    """A public collection's papers."""
    engine = engine_of(request)
    coll = coll_store.get_collection(engine, collection_id)
    if coll is None or not coll.is_public:
        raise HTTPException(404, f"collection {collection_id}: not found or not public")
    papers = listings.papers_by_ids(engine, coll_store.collection_paper_ids(engine, coll.id))
    return _feed(request, fmt, f"collection {coll.name}", f"/collections/{coll.id}", papers)


@router.get("/searches/{token}.{fmt}", name="feeds.saved_search")
def saved_search(request: Request, token: str, fmt: str) -> Response:
    """The newest results of a saved search (the URL carries a signed id)."""
    secret = request.app.state.settings.secret_key.get_secret_value()
    search_id = saved_search_id(secret, token)
    saved = coll_store.get_saved_search(engine_of(request), search_id) if search_id else None
    if saved is None:
        raise HTTPException(404, "saved search: not found")
    raw = {k: v[-1] for k, v in parse_qs(saved["query"]).items()}
    params = search_params(raw)
    if params.q:
        params.sort = params.sort if params.sort != "relevance" else "date"
    _, papers = run_search(request, params, limit=FEED_SIZE)
    return _feed(request, fmt, f"search {saved['name']}", f"/search?{saved['query']}", papers)
