"""Upvote button: toggles the signed-in user's vote (form POST, or fetch with the CSRF header)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperroute.models import paper_path
from paperroute.store.votes import UnknownPaper, toggle_vote
from paperroute.web.deps import current_user, engine_of, run_write
from paperroute.web.presenters import back_to, see_other

router = APIRouter()


@router.post("/papers/{paper_id:path}/upvote", name="votes.toggle")
async def upvote(request: Request, paper_id: str) -> Response:
    """Flip your upvote on a paper."""
    return await run_write(request, _upvote, request, paper_id)


def _upvote(request: Request, paper_id: str) -> Response:
    user = current_user(request)
    if user is None:
        if "application/json" in request.headers.get("accept", ""):
            raise HTTPException(401, "Sign in to upvote")
        return see_other(request, "accounts.signin_form", next=paper_path(paper_id))
    request.app.state.limiter.check(f"vote:{user.id}", 60, 60)
    try:
        voted, local, hf = toggle_vote(engine_of(request), user.id, paper_id)
    except UnknownPaper:
        raise HTTPException(404, f"paper {paper_id}: not found") from None
    request.app.state.caches.changed("votes", user.id, paper_id)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {
                "paper_id": paper_id,
                "voted": voted,
                "upvotes": local,
                "hf_upvotes": hf,
                "total_upvotes": local + hf,
            }  # fmt: skip
        )
    return RedirectResponse(back_to(request, paper_path(paper_id)), status_code=303)
