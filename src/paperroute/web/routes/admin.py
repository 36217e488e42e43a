"""Admin: hide or feature a paper, add a paper by arXiv id or URL, sign a member out everywhere.

Everyone else gets 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from paperroute.models import InvalidPaperId, canonical_id, paper_path
from paperroute.store.auth import end_user_sessions
from paperroute.store.listings import PaperFilter, list_papers, set_flags
from paperroute.store.users import get_user, list_users
from paperroute.web.deps import engine_of, render, require_admin

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])


@router.get("", name="admin.index")
def index(request: Request, message: str = "", error: str = "") -> Response:
    """The admin page: add a paper, featured and hidden papers, users."""
    engine = engine_of(request)
    featured, _ = list_papers(engine, PaperFilter(featured=True), order="published", limit=100)
    hidden, _ = list_papers(
        engine, PaperFilter(include_hidden=True, hidden_only=True), order="published", limit=100
    )
    return render(
        request,
        "admin/index.html",
        featured=featured,
        hidden=hidden,
        users=list_users(engine),
        message=message,
        error=error,
    )


def _flag(value: str | None) -> bool | None:
    return None if value in (None, "") else value in {"1", "true", "on"}


@router.post("/papers/{paper_id:path}/flags", name="admin.flags")
def flags(
    request: Request, paper_id: str, hidden: str = Form(""), featured: str = Form("")
) -> Response:
    """Hide/unhide or feature/unfeature a paper."""
    if not set_flags(engine_of(request), paper_id, hidden=_flag(hidden), featured=_flag(featured)):
        raise HTTPException(404, f"paper {paper_id}: not found")
    request.app.state.caches.changed("paper")
    return RedirectResponse(paper_path(paper_id), status_code=303)


@router.post("/papers", name="admin.add_paper")
def add_paper(request: Request, arxiv: str = Form(...)) -> Response:
    """Add (or refresh) a paper by arXiv id or URL, fetched from the arXiv API."""
    try:
        paper_id = canonical_id(arxiv)
    except InvalidPaperId as exc:
        return index(request, error=f"arxiv: {exc}")
    fetched = request.app.state.ingest.arxiv([paper_id])  # stored, indexed and embedded
    if fetched.explain():
        return index(request, error=f"arXiv API: {fetched.explain()}")
    return RedirectResponse(paper_path(paper_id), status_code=303)


@router.post("/users/{user_id}/signout", name="admin.revoke_sessions")
def revoke_sessions(request: Request, user_id: int = Path(ge=1, le=2**31 - 1)) -> Response:
    """End every session of a member: each of their browsers must sign in again."""
    engine = engine_of(request)
    user = get_user(engine, user_id)
    if user is None:
        raise HTTPException(404, f"user {user_id}: not found")
    ended = end_user_sessions(engine, user_id)
    request.app.state.caches.session_ended()
    return index(request, message=f"{user.email}: {ended} session(s) ended")
