"""Search page: hybrid search with filters (dates, categories, code, upvotes) and sorts."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from paperroute.models import Paper, paper_path
from paperroute.params import Page
from paperroute.search.highlight import mark_html, snippet_window
from paperroute.store.collections import CollectionError, save_search
from paperroute.store.votes import voted_ids
from paperroute.web.deps import (
    engine_of,
    json_response,
    personal_parts_wanted,
    render,
    require_user,
    wants_json,
)
from paperroute.web.mathtext import render_text, render_window
from paperroute.web.presenters import SORTS, paper_summary, run_search, search_params, see_other

router = APIRouter()
PAGE_SIZE = 25


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
    return see_other(request, "accounts.profile")
