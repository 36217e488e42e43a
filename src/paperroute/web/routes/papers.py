"""Paper pages: daily, weekly, monthly, trending, one paper, author and category listings."""

from __future__ import annotations

import time
from datetime import date, timedelta
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperroute.models import Paper, paper_path
from paperroute.params import ListSort, MinCitations, Page
from paperroute.ranking import trending
from paperroute.references.export import to_bibtex
from paperroute.store import listings
from paperroute.store.claims import approved_authors, claimed_paper_ids
from paperroute.store.collections import collection_choices
from paperroute.store.papers import get_paper, resolve_paper_id
from paperroute.store.votes import voted_ids
from paperroute.web.deps import (
    current_user,
    engine_of,
    json_response,
    personal_parts_wanted,
    render,
    run_quick,
    search_service,
    wants_json,
)
from paperroute.web.presenters import (
    listing_page,
    paper_summary,
    trending_papers,
    union_filter,
    union_heading,
    url_for,
)
from paperroute.web.threadview import rendered_thread, thread_marker

router = APIRouter()


@router.get("/", name="papers.home")
def home(request: Request, p: Page = 0) -> Response:
    """The latest day that has papers."""
    return _daily(request, None, p, _daily_mode(request))


@router.get("/date/{day}", name="papers.daily")
def daily(request: Request, day: str, p: Page = 0) -> Response:
    """Papers of one day, most upvoted first (which papers: the `daily_page` setting)."""
    return _daily(request, _parse_day(day), p, _daily_mode(request))


@router.get("/date/{day}/all", name="papers.daily_all")
def daily_all(request: Request, day: str, p: Page = 0) -> Response:
    """Every paper of one day, announced or submitted (the full listing of a curated page)."""
    return _daily(request, _parse_day(day), p, "all")


def _parse_day(day: str) -> date:
    try:
        return listings.parse_day(day)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None


def _daily_mode(request: Request) -> listings.PeriodMode:
    return request.app.state.settings.daily_page


def _day_context(engine, day: date | None, mode: listings.PeriodMode) -> tuple | None:
    """(day, previous day, next day, featured papers) for a daily page; None for an empty store."""
    day = day or listings.latest_day(engine, mode)
    if day is None:
        return None
    prev_day, next_day = listings.adjacent_days(engine, day, mode)
    featured, _ = listings.list_papers(
        engine, listings.PaperFilter(featured=True), order="published", limit=3
    )
    return day, prev_day, next_day, featured


def _daily(request: Request, day: date | None, p: int, mode: listings.PeriodMode) -> Response:
    engine = engine_of(request)
    context = request.app.state.data_cache.remember(
        ("day", day, mode), lambda: _day_context(engine, day, mode)
    )
    if context is None:
        return render(request, "papers/empty.html")
    day, prev_day, next_day, featured = context
    if p > 0 or wants_json(request) or mode == "curated":  # curated: featured are in the list
        featured = []
    curated = _daily_mode(request) == "curated"
    base = "/date/{}/all" if curated and mode == "all" else "/date/{}"
    title = "Daily papers" if mode != "all" or not curated else "All papers"
    return listing_page(
        request,
        listings.PaperFilter(start=day, end=day, mode=mode),
        f"{title} · {day.strftime('%A %d %B %Y')}",
        p,
        period="day",
        day=day,
        featured=featured,
        prev_url=base.format(prev_day.isoformat()) if prev_day else None,
        next_url=base.format(next_day.isoformat()) if next_day else None,
        week_url=f"/week/{listings.iso_week(day)}",
        month_url=f"/month/{day.strftime('%Y-%m')}",
        feed_url="/feeds/daily",
        full_listing_url=f"/date/{day.isoformat()}/all" if mode == "curated" else None,
        curated_url=f"/date/{day.isoformat()}" if curated and mode == "all" else None,
    )


@router.get("/week/{week}", name="papers.weekly")
def weekly(request: Request, week: str, p: Page = 0) -> Response:
    """Papers announced in one ISO week, most upvoted first."""
    try:
        start, end = listings.week_range(week)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None
    return listing_page(
        request,
        listings.PaperFilter(start=start, end=end),
        f"Weekly papers · {listings.iso_week(start)} ({start:%d %b} – {end:%d %b %Y})",
        p,
        period="week",
        prev_url=f"/week/{listings.iso_week(start - timedelta(days=7))}",
        next_url=f"/week/{listings.iso_week(start + timedelta(days=7))}",
    )


@router.get("/month/{month}", name="papers.monthly")
def monthly(request: Request, month: str, p: Page = 0) -> Response:
    """Papers announced in one month, most upvoted first."""
    try:
        start, end = listings.month_range(month)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None
    prev_month = (start - timedelta(days=1)).strftime("%Y-%m")
    next_month = (end + timedelta(days=1)).strftime("%Y-%m")
    return listing_page(
        request,
        listings.PaperFilter(start=start, end=end),
        f"Monthly papers · {start:%B %Y}",
        p,
        period="month",
        prev_url=f"/month/{prev_month}",
        next_url=f"/month/{next_month}",
    )


@router.get("/trending", name="papers.trending")
def trending_page(request: Request) -> Response:
    """Papers ranked by the time-decayed trending score, each with its breakdown."""

    ranked = trending_papers(request)
    if wants_json(request):
        return json_response(
            {
                "papers": [
                    {**paper_summary(p), "trending": {**s.__dict__, "explain": s.explain()}}
                    for p, s in ranked
                ]
            }
        )
    reader = personal_parts_wanted(request)
    papers = [p for p, _ in ranked]
    voted = voted_ids(engine_of(request), reader.id, [p.id for p in papers]) if reader else set()
    return render(
        request,
        "papers/list.html",
        shared=True,
        heading="Trending papers",
        papers=papers,
        scores={s.paper_id: s for _, s in ranked},
        voted=voted,
        total=len(papers),
        page_number=0,
        offset=0,
        has_more=False,
        feed_url="/feeds/trending",
        explain_url="/about/trending",
    )


@router.get("/about/trending", name="papers.trending_about")
def trending_about(request: Request) -> Response:
    """How the trending score is computed."""
    return render(
        request,
        "papers/trending_about.html",
        save_weight=trending.SAVE_WEIGHT,
        half_life=trending.HALF_LIFE_HOURS,
        window=trending.WINDOW_DAYS,
    )


def bibtex(paper: Paper) -> str:
    """The paper's BibTeX entry: the export's own writer, so the page and a file agree."""
    return to_bibtex([paper]).strip()


def _similar(request: Request, paper_id: str, wait: bool) -> list[tuple[str, str]] | None:
    """(id, title) of up to five similar papers, remembered a while since they rarely change;
    None when they are not known yet and `wait` is false (or search is unavailable)."""
    cache = request.app.state.similar_cache
    found = cache.get(paper_id)
    if found is not None or not wait:
        return found
    search = search_service(request, wait=True)
    if search is None:
        return None
    try:
        hits = search.similar(paper_id, k=5).hits
    except Exception:  # a missing index must not break the page
        request.app.state.log.warning("similar papers unavailable for %s", paper_id, exc_info=True)
        return None
    found = [(h.id, h.title) for h in hits if h.id != paper_id][:5]
    cache.put(paper_id, found)
    return found


def find_paper(request: Request, raw: str) -> Paper | None:
    """The paper a URL names by its id or any identifier (`doi/10.x/y`, `acl/...`, `doi:10.x`)."""
    engine = engine_of(request)
    paper = get_paper(engine, raw)
    if paper is None:
        found = resolve_paper_id(engine, raw)
        paper = get_paper(engine, found) if found else None
    return paper


def _read_paper(request: Request, raw: str) -> Paper | None:
    """`find_paper`, its vote counts kept for the vote slots of the page (no second query)."""
    began = time.monotonic()
    paper = find_paper(request, raw)
    if paper is not None:
        request.app.state.caches.votes.keep({paper.id: (paper.upvotes, paper.hf_upvotes)}, began)
    return paper


def _elsewhere(request: Request, paper: Paper, suffix: str = "") -> Response | None:
    """A permanent redirect to the paper's own URL when it was reached by another identifier
    (or by an id it lost when it joined its arXiv preprint)."""
    own, path = paper_path(paper.id) + suffix, request.url.path
    if path == own or quote(path, safe=_SAFE) == quote(own, safe=_SAFE):  # equal: no quoting
        return None
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(own + query, status_code=301)


_SAFE = "/:;()[]._-+=,@!$&'*~%"


@router.get("/papers/{paper_id:path}/similar", name="papers.similar")
def similar(request: Request, paper_id: str, fragment: bool = False) -> Response:
    """Papers similar in meaning; `?fragment=1` is the list the paper page loads after itself."""
    paper = find_paper(request, paper_id)
    if paper is None or paper.hidden:
        raise HTTPException(404, f"paper {paper_id}: not found")
    found = _similar(request, paper.id, wait=True) or []
    if wants_json(request):
        return json_response(
            {"paper_id": paper.id, "similar": [{"id": i, "title": t} for i, t in found]}
        )
    if fragment:
        html = request.app.state.templates.get_template("papers/_similar.html").render(
            similar=found
        )
        return Response(html, media_type="text/html")
    return render(request, "papers/similar.html", paper=paper, similar=found)


@router.get("/papers/{paper_id:path}.md", name="papers.markdown")
def markdown(request: Request, paper_id: str) -> Response:
    """The paper as Markdown (title, authors, links, abstract, AI summary), for notes and LLMs."""
    paper = find_paper(request, paper_id)
    if paper is None or paper.hidden:
        raise HTTPException(404, f"paper {paper_id}: not found")
    text = request.app.state.templates.get_template("papers/paper.md").render(paper=paper)
    return Response(text, media_type="text/markdown; charset=utf-8")


@router.get("/papers/{paper_id:path}", name="papers.show")
async def show(request: Request, paper_id: str) -> Response:
    """Everything about one paper."""
    return await run_quick(request, _show, request, paper_id)


def _show(request: Request, paper_id: str) -> Response:
    engine = engine_of(request)
    user = current_user(request)
    paper = request.app.state.data_cache.remember(
        ("paper", paper_id), lambda: _read_paper(request, paper_id)
    )
    if paper is None or (paper.hidden and not (user and user.is_admin)):
        raise HTTPException(404, f"paper {paper_id}: not found")
    moved = _elsewhere(request, paper)
    if moved is not None:
        return moved
    if wants_json(request):
        return json_response({**paper_summary(paper), "bibtex": bibtex(paper)})
    reader = personal_parts_wanted(request)
    # A thread shows each reader their own comment votes and Edit/Delete links: the page holds
    # a marker where the thread goes, filled per reader (web/threadview.py).
    mark, headers = None, {}
    if paper.num_comments:
        mark, headers = thread_marker(paper.id, user is not None)
        rendered_thread(request.app.state, paper.id, user is not None)  # in run_quick, as the rest
    response = render(
        request,
        "papers/show.html",
        shared=True,
        ranked=False,  # its vote counts are filled in as served: a vote leaves it cached
        paper=paper,
        thread=[],
        thread_html=mark,
        max_chars=request.app.state.discussion.limits.max_chars,
        bibtex=bibtex(paper),
        similar=_similar(request, paper.id, wait=False),
        voted=voted_ids(engine, reader.id, [paper.id]) if reader else set(),
        choices=collection_choices(engine, reader.id, paper.id) if reader else [],
        claimed=_claimed_authors(request, paper.id),
    )
    response.headers.update(headers)
    return response


def _claimed_authors(request: Request, paper_id: str) -> dict:
    """`approved_authors` of the paper, asked only of papers that have an approved claim: the
    set of those is shared a few seconds like other data (a claim approved here empties it),
    so most paper pages skip the query (a twentieth of a cold page's CPU)."""
    engine = engine_of(request)
    claimed = request.app.state.data_cache.remember(
        ("claimed-papers",), lambda: claimed_paper_ids(engine)
    )
    return approved_authors(engine, paper_id) if paper_id in claimed else {}


@router.get("/authors/{name:path}", name="papers.author")
def author(request: Request, name: str, p: Page = 0) -> Response:
    """Every paper by one author."""
    return listing_page(
        request,
        listings.PaperFilter(author=name),
        f"Papers by {name}",
        p,
        order="published",
        follow_name=name,
    )


@router.get("/categories", name="papers.categories")
def categories(request: Request) -> Response:
    """The categories of the store, largest first."""
    cats = listings.top_categories(engine_of(request), limit=200)
    if wants_json(request):
        return json_response({"categories": [{"category": c, "papers": n} for c, n in cats]})
    return render(request, "papers/categories.html", shared=True, categories=cats)


@router.get("/categories/{category}", name="papers.category")
def category(
    request: Request,
    category: str,
    p: Page = 0,
    sort: ListSort = None,
    min_citations: MinCitations = None,
) -> Response:
    """Papers in arXiv categories (`cs.CL+cs.LG-cs.CY`: either, but not the last), newest first."""
    flt = union_filter(request, "category", category)
    flt.min_citations = min_citations
    single = len(flt.categories) == 1 and not flt.exclude_categories
    return listing_page(
        request,
        flt,
        f"Papers in {union_heading(flt, 'category')}",
        p,
        order=sort or "published",
        feed_url=f"/feeds/categories/{quote(category)}",
        sort=sort or "published",
        follow_tag=flt.categories[0] if single else None,  # a union has no single tag
        search_filter=f"cat:{flt.categories[0]}" if single else None,
    )


@router.get("/latest", include_in_schema=False)
def latest(request: Request) -> Response:
    """Redirect to the newest day's permanent URL."""
    day = listings.latest_day(engine_of(request))
    if day is None:
        return RedirectResponse(url_for(request, "papers.home"), status_code=302)
    url = url_for(request, "papers.daily", day=day.isoformat())
    return RedirectResponse(url, status_code=302)
