"""Admin: every source with its last run, next run, papers and errors; pause and resume; add a
journal feed by URL (it then keeps its own schedule and checkpoint, see jobs/sources.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response

from paperroute.jobs.sources import find_source, source_overview
from paperroute.store.sources import (
    FeedUrlError,
    add_journal_feed,
    remove_journal_feed,
    set_paused,
)
from paperroute.web.deps import engine_of, render, require_admin
from paperroute.web.presenters import see_other

router = APIRouter(prefix="/admin/sources", dependencies=[Depends(require_admin)])


@router.get("", name="sources.index")
def index(request: Request, message: str = "", error: str = "") -> Response:
    """The sources page: one row per source, and the add-a-feed form."""
    rows = source_overview(request.app.state.settings, engine_of(request))
    return render(request, "admin/sources.html", sources=rows, message=message, error=error)


def _back(request: Request, message: str) -> Response:
    return see_other(request, "sources.index", message=message)


@router.post("/pause", name="sources.pause")
def pause(request: Request, name: str = Form(..., max_length=2100), paused: str = Form("1")):
    """Pause (paused=1) or resume (paused=0) a source."""
    engine = engine_of(request)
    found = find_source(engine, name)
    if found is None:
        raise HTTPException(404, f"source {name[:100]!r}: not found")
    stop = paused in {"1", "true", "on"}
    set_paused(engine, found.name, stop)
    return _back(request, f"{found.name}: {'paused' if stop else 'resumed'}")


@router.post("/feeds", name="sources.add_feed")
def add_feed(request: Request, url: str = Form(..., max_length=4000)) -> Response:
    """Add a journal feed by URL; the worker reads it on its own schedule."""
    try:
        feed, new = add_journal_feed(engine_of(request), url)
    except FeedUrlError as exc:
        return index(request, error=str(exc))
    return _back(request, f"{feed['url']}: {'added' if new else 'already added'}")


@router.post("/feeds/remove", name="sources.remove_feed")
def remove_feed(request: Request, name: str = Form(..., max_length=2100)) -> Response:
    """Stop reading a journal feed (its papers stay)."""
    if not remove_journal_feed(engine_of(request), name):
        raise HTTPException(404, f"journal feed {name[:100]!r}: not found")
    return _back(request, f"{name}: removed")
