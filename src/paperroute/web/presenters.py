"""What several pages show the same way, shared by the routes that show it: a paper's JSON
card, a ranked listing page, the trending list, the union filters of category, venue and
journal URLs, a search run from its form, and where a form goes back to.

The feeds (web/routes/feeds.py) call these too, so a listing and its feed list the same papers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperroute.models import Paper, paper_path
from paperroute.params import bounded_count
from paperroute.ranking import leaderboard, trending
from paperroute.store import listings
from paperroute.store import orgs as org_store
from paperroute.store.listings import papers_by_ids
from paperroute.store.votes import voted_ids
from paperroute.web.deps import (
    engine_of,
    json_response,
    personal_parts_wanted,
    render,
    search_service,
    wants_json,
)

PAGE_SIZE = 50  # papers on a page of a listing


def paper_summary(paper: Paper) -> dict:
    """The JSON twin of a paper card."""
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": paper.author_names,
        "abstract": paper.abstract,
        "categories": paper.categories,
        "announced": paper.announced.isoformat() if paper.announced else None,
        "published": paper.published.isoformat() if paper.published else None,
        "upvotes": paper.upvotes,
        "hf_upvotes": paper.hf_upvotes,
        "total_upvotes": paper.total_upvotes,
        "saves": paper.saves,
        "num_comments": paper.num_comments,
        "code_url": paper.code_url,
        "project_url": paper.project_url,
        "github_stars": paper.github_stars,
        "url": paper_path(paper.id),
        "venue": paper.venue,
        "year": paper.year,
        "doi": paper.doi,
        "citation_count": paper.citation_count,
        "submitted_by": _submitted_by(paper),
    }


def _submitted_by(paper: Paper) -> dict | None:
    found = paper.submission
    if found is None:
        return None
    return {"name": found.name, "url": found.url, "at": found.at.isoformat()}


def listing_page(
    request: Request,
    flt: listings.PaperFilter,
    heading: str,
    p: int,
    order: listings.Order | Literal["trending"] = "votes",
    template: str = "papers/list.html",
    **extra,
) -> Response:
    """Render page `p` of a ranked listing (or its JSON twin)."""
    engine = engine_of(request)
    papers, total = request.app.state.data_cache.remember(
        ("list", repr(flt), order, p), lambda: _listing(engine, flt, order, p)
    )
    if wants_json(request):
        return json_response(
            {
                "heading": heading,
                "total": total,
                "page": p,
                "papers": [paper_summary(x) for x in papers],
            }
        )
    reader = personal_parts_wanted(request)
    shown = [x.id for x in papers] + [x.id for x in extra.get("featured") or []]
    voted = voted_ids(engine, reader.id, shown) if reader else set()
    return render(
        request,
        template,
        shared=True,
        heading=heading,
        papers=papers,
        voted=voted,
        total=total,
        page_number=p,
        has_more=(p + 1) * PAGE_SIZE < total,
        offset=p * PAGE_SIZE,
        **extra,
    )


def _listing(engine, flt: listings.PaperFilter, order: str, p: int) -> tuple[list[Paper], int]:
    if order == "trending":  # the trending formula over the listing's papers, on its clock
        now = datetime.now(UTC)
        return leaderboard.trending_listing(engine, now, flt, limit=PAGE_SIZE, offset=p * PAGE_SIZE)
    return listings.list_papers(engine, flt, order=order, limit=PAGE_SIZE, offset=p * PAGE_SIZE)


def trending_papers(
    request: Request, limit: int = 50
) -> list[tuple[Paper, trending.TrendingScore]]:
    """Papers ranked by the trending score, with each score's breakdown."""
    return request.app.state.data_cache.remember(
        ("trending", limit),
        lambda: leaderboard.list_trending(engine_of(request), datetime.now(UTC), limit=limit),
    )


def union_filter(request: Request, kind: str, spec: str) -> listings.PaperFilter:
    """The filter a category, venue or journal URL names, with union and exclusion
    (`cs.CL+cs.LG-cs.CY`, `0090-0036+1541-0048`)."""
    known = frozenset()
    if "+" in spec or "-" in spec:
        engine = engine_of(request)
        known = request.app.state.data_cache.remember(
            ("known", kind), lambda: listings.known_names(engine, kind)
        )
    include, exclude = listings.split_union(spec, known)
    if kind == "category":
        return listings.PaperFilter(categories=tuple(include), exclude_categories=tuple(exclude))
    if kind == "journal":
        return listings.PaperFilter(issns=tuple(include), exclude_issns=tuple(exclude))
    return listings.PaperFilter(venues=tuple(include), exclude_venues=tuple(exclude))


def union_heading(flt: listings.PaperFilter, kind: str) -> str:
    """ "cs.CL or cs.LG, not cs.CY": how a page names a union/exclusion filter."""
    include, exclude = {
        "category": (flt.categories, flt.exclude_categories),
        "venue": (flt.venues, flt.exclude_venues),
        "journal": (flt.issns, flt.exclude_issns),
    }[kind]
    words = " or ".join(include) or "all"
    return words + (f", not {', '.join(exclude)}" if exclude else "")


SORTS = {
    "relevance": "Relevance",
    "date": "Newest",
    "upvotes": "Most upvoted",
    "citations": "Most cited",
}


@dataclass
class SearchParams:
    """What the search form asks for."""

    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    categories: list[str] = field(default_factory=list)
    has_code: bool = False
    min_upvotes: int = 0
    sort: str = "relevance"
    page: int = 0
    errors: list[str] = field(default_factory=list)

    def query_string(self) -> str:
        """The URL query of this search (without the page)."""
        pairs: list[tuple[str, Any]] = [("q", self.q)]
        if self.date_from:
            pairs.append(("from", self.date_from.isoformat()))
        if self.date_to:
            pairs.append(("to", self.date_to.isoformat()))
        if self.categories:
            pairs.append(("cat", ",".join(self.categories)))
        if self.has_code:
            pairs.append(("has_code", "1"))
        if self.min_upvotes:
            pairs.append(("min_upvotes", str(self.min_upvotes)))
        if self.sort != "relevance":
            pairs.append(("sort", self.sort))
        return urlencode(pairs)


def search_params(raw: dict[str, str]) -> SearchParams:
    """Parse the search form; bad fields are reported by name and ignored."""
    params = SearchParams(q=(raw.get("q") or "").strip()[:500])
    for key, attr in (("from", "date_from"), ("to", "date_to")):
        if raw.get(key):
            try:
                setattr(params, attr, date.fromisoformat(raw[key]))
            except ValueError:
                params.errors.append(f"{key}: {raw[key]!r} is not a date (YYYY-MM-DD)")
    params.categories = [c.strip() for c in (raw.get("cat") or "").split(",") if c.strip()]
    params.has_code = raw.get("has_code") in {"1", "true", "on"}
    try:
        params.min_upvotes = bounded_count("min_upvotes", raw.get("min_upvotes"))
    except ValueError as exc:
        params.errors.append(str(exc))
    sort = raw.get("sort") or "relevance"
    if sort not in SORTS:
        params.errors.append(f"sort: {sort!r} is not one of {', '.join(SORTS)}")
        sort = "relevance"
    params.sort = sort
    try:
        params.page = max(0, int(raw.get("p") or 0))
    except ValueError:
        params.page = 0
    return params


def run_search(request: Request, params: SearchParams, limit: int, offset: int = 0):
    """The search service's results for a search, and the hits' papers in result order."""
    service = search_service(request)
    if service is None:
        raise HTTPException(503, "Search is not available on this server right now")
    from paperroute.search.service import SearchFilters

    filters = SearchFilters(
        date_from=params.date_from,
        date_to=params.date_to,
        categories=params.categories,
        has_code=params.has_code,
        min_upvotes=params.min_upvotes,
    )

    def compute():
        result = service.search(
            params.q, filters=filters, sort=params.sort, limit=limit, offset=offset
        )
        return result, papers_by_ids(engine_of(request), [h.id for h in result.hits])

    # The same search is the same for every reader for a few seconds (votes are per reader).
    key = ("search", params.query_string(), limit, offset)
    return request.app.state.data_cache.remember(key, compute)


def venue_filter(
    request: Request, venue: str, year: int | None, track: str | None
) -> listings.PaperFilter:
    """The papers a venue URL names: its venues (union/exclusion), year and track."""
    flt = union_filter(request, "venue", venue)
    flt.year = year
    flt.track = track or None
    return flt


def journal_filter(request: Request, issns: str) -> tuple[listings.PaperFilter, str]:
    """The articles a journal URL names (`0090-0036`, or a union `0090-0036+1541-0048-...`),
    and the page's heading: "Journal (ISSN ...)", titles joined for a union; 404 when it
    names no journal the store has."""
    flt = union_filter(request, "journal", issns.upper())
    named = [*flt.issns, *flt.exclude_issns]
    found = {i: t for i, t, _ in listings.top_journals(engine_of(request), issns=named)}
    if not flt.issns or any(i not in found for i in named):
        missing = next((i for i in named if i not in found), issns)
        raise HTTPException(404, f"journal ISSN {missing[:20]!r}: no articles")
    words = " or ".join(f"{found[i]} (ISSN {i})" for i in flt.issns)
    if flt.exclude_issns:
        words += ", not " + ", ".join(f"{found[i]} (ISSN {i})" for i in flt.exclude_issns)
    return flt, words


def org_or_404(request: Request, slug: str) -> org_store.Org:
    """The organisation of a slug, or 404."""
    found = request.app.state.data_cache.remember(
        ("org", slug), lambda: org_store.get_org(engine_of(request), slug)
    )
    if found is None:
        raise HTTPException(404, f"organisation {slug[:80]}: not found")
    return found


def back_to(request: Request, fallback: str) -> str:
    """Where a form goes after posting: the same-site page it came from, else `fallback`."""
    referer = request.headers.get("referer", "")
    base = str(request.base_url)
    if referer.startswith(base):
        return "/" + referer[len(base) :]
    return fallback


def url_for(request: Request, name: str, /, **params: object) -> str:
    """The path of the named page route (web/urls.PagePaths, as the templates' `url_for`)."""
    return request.app.state.url_for(name, **params)


def see_other(request: Request, name: str, /, fragment: str = "", **params: object) -> Response:
    """A 303 to the named page route, its path built as the templates build their links."""
    url = url_for(request, name, **params)
    return RedirectResponse(f"{url}#{fragment}" if fragment else url, status_code=303)


def safe_next(value: str | None) -> str:
    """Only same-site relative paths may be redirect targets."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
