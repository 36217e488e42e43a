"""Venues and journals as views, like arXiv categories: `/venues`, `/venues/<venue>/<year>` with
its tracks (oral, poster, findings, long, ...), `/journals/<ISSN>`, and their Atom/JSON feeds.

A venue URL takes the category-style union and exclusion (`/venues/ACL+EMNLP-Findings`)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperroute.params import ListSort, MinCitations, Page, Year
from paperroute.store import listings
from paperroute.web.deps import engine_of, json_response, render, wants_json
from paperroute.web.presenters import (
    journal_filter,
    listing_page,
    union_heading,
    venue_filter,
)

router = APIRouter()
Track = Query(None, max_length=100, description="Only this track (oral, poster, findings, long)")


@router.get("/venues", name="venues.index")
def index(request: Request) -> Response:
    """Every conference venue and year, and every journal, largest first."""
    engine = engine_of(request)
    venues = listings.top_venues(engine)
    journals = listings.top_journals(engine)
    if wants_json(request):
        return json_response(
            {
                "venues": [{"venue": v, "year": y, "papers": n} for v, y, n in venues],
                "journals": [{"issn": i, "title": t, "papers": n} for i, t, n in journals],
            }
        )
    return render(request, "venues/index.html", shared=True, venues=venues, journals=journals)


def _venue(
    request: Request,
    venue: str,
    year: int | None,
    p: int,
    sort: str | None,
    track: str | None,
    min_citations: int | None,
) -> Response:
    flt = venue_filter(request, venue, year, track)
    flt.min_citations = min_citations
    engine = engine_of(request)
    path = f"/venues/{quote(venue)}" + (f"/{year}" if year else "")
    heading = union_heading(flt, "venue") + (f" {year}" if year else "")
    return listing_page(
        request,
        flt,
        heading + (f" ({track})" if track else ""),
        p,
        order=sort or "votes",
        template="venues/show.html",
        feed_url=f"/feeds{path}",
        sort=sort or "votes",
        page_path=path,
        track=track,
        tracks=listings.facet_counts(engine, venue_filter(request, venue, year, None), "track"),
        years=listings.facet_counts(engine, venue_filter(request, venue, None, None), "year"),
        years_base=f"/venues/{quote(venue)}",
        # one venue is followed and searched by its name; a union has no single tag
        follow_tag=None if len(flt.venues) != 1 or flt.exclude_venues else f"venue:{venue}",
        search_filter=f'venue:"{venue}"' if " " in venue else f"venue:{venue}",
    )


@router.get("/venues/{venue}", name="venues.venue")
def venue_all_years(
    request: Request,
    venue: str,
    p: Page = 0,
    sort: ListSort = None,
    track: str | None = Track,
    min_citations: MinCitations = None,
) -> Response:
    """A venue's papers over all its years, most upvoted first."""
    return _venue(request, venue, None, p, sort, track, min_citations)


@router.get("/venues/{venue}/{year}", name="venues.show")
def venue_year(
    request: Request,
    venue: str,
    year: Year,
    p: Page = 0,
    sort: ListSort = None,
    track: str | None = Track,
    min_citations: MinCitations = None,
) -> Response:
    """One venue's papers of one year, with its tracks (`?track=findings`)."""
    return _venue(request, venue, year, p, sort, track, min_citations)


@router.get("/journals/{issn}", name="venues.journal")
def journal(
    request: Request,
    issn: str,
    p: Page = 0,
    sort: ListSort = None,
    min_citations: MinCitations = None,
) -> Response:
    """A journal's articles by ISSN (or a union, `0090-0036+1541-0048`), newest first."""
    base, heading = journal_filter(request, issn)
    flt = replace(base, min_citations=min_citations)
    engine = engine_of(request)
    spec = issn.upper()
    single = len(flt.issns) == 1 and not flt.exclude_issns
    return listing_page(
        request,
        flt,
        heading,
        p,
        order=sort or "published",
        template="venues/show.html",
        feed_url=f"/feeds/journals/{quote(spec)}",
        sort=sort or "published",
        page_path=f"/journals/{quote(spec)}",
        years=listings.facet_counts(engine, base, "year"),
        years_base=None,
        follow_tag=f"journal:{flt.issns[0]}" if single else None,
        search_filter=f"journal:{flt.issns[0]}" if single else None,
    )
