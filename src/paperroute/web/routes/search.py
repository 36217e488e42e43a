"""Search page: hybrid search with filters (dates, categories, code, upvotes) and sorts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from paperroute.models import Paper, paper_path
from paperroute.params import Page, bounded_count
from paperroute.search.highlight import mark_html, snippet_window
from paperroute.store.collections import CollectionError, save_search
from paperroute.store.listings import papers_by_ids
from paperroute.store.votes import voted_ids
from paperroute.web.deps import (
    engine_of,
    json_response,
    personal_parts_wanted,
    render,
    require_user,
    search_service,
    wants_json,
)
from paperroute.web.mathtext import render_text, render_window
from paperroute.web.routes.papers import paper_summary

router = APIRouter()
PAGE_SIZE = 25
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


def snippet_html(abstract: str | None, terms: set[str]):
    """The window of the abstract around its first matched word, its LaTeX rendered."""
    return render_window(abstract, *snippet_window(abstract or "", terms))


def card_parts(result, papers: list[Paper]) -> dict[str, dict]:
    """Per paper: the title (formulas rendered) and snippet with matched words marked, and why
    it matched; the search page's cards show them."""
    terms = set(result.terms)
    hits = {h.id: h for h in result.hits}
    return {
        p.id: {
            "title": Markup(mark_html(str(render_text(p.title)), terms)[0]),
            "snippet": Markup(mark_html(str(snippet_html(p.abstract, terms)), terms)[0]),
            "why": "; ".join(hits[p.id].why),
        }
        for p in papers
        if p.id in hits
    }


@router.get("/search", name="search.results")
def results(request: Request, p: Page = 0) -> Response:
    """Search results with filters and sorts (the empty query shows the form)."""
    # `p` is declared for its bound (a 422 naming it); search_params reads the whole query.
    params = search_params(dict(request.query_params))
    papers: list[Paper] = []
    result = None
    if params.q:
        result, papers = run_search(
            request, params, limit=PAGE_SIZE, offset=params.page * PAGE_SIZE
        )
        if result.jump_to and not wants_json(request):
            return RedirectResponse(paper_path(result.jump_to), status_code=302)
    parts = card_parts(result, papers) if result else {}
    total = result.total if result else 0
    if wants_json(request):
        return json_response(
            {
                "query": params.q,
                "total": total,
                "errors": params.errors,
                "message": result and result.message,
                "author": result and result.author,
                "suggestion": result and result.suggestion,
                "papers": [
                    {**paper_summary(p), "why": parts.get(p.id, {}).get("why")} for p in papers
                ],
            }
        )
    reader = personal_parts_wanted(request)
    return render(
        request,
        "search/results.html",
        shared=True,
        ranked=params.sort == "upvotes" or bool(params.min_upvotes),  # else votes do not order it
        params=params,
        query=params.q,
        sorts=SORTS,
        papers=papers,
        total=total,
        result=result,
        hits=parts,
        voted=voted_ids(engine_of(request), reader.id, [p.id for p in papers]) if reader else set(),
        offset=params.page * PAGE_SIZE,
        has_more=(params.page + 1) * PAGE_SIZE < total,
        query_string=params.query_string(),
    )


@router.post("/search/save", name="search.save")
def save(request: Request, query_string: str = Form(...), name: str = Form("")) -> Response:
    """Save the current search; its feed link appears on your profile."""
    user = require_user(request)
    try:
        save_search(engine_of(request), user.id, name, query_string)
    except CollectionError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse("/profile", status_code=303)
