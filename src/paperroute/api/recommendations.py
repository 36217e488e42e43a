"""JSON API: the token owner's personal recommendations (`GET /api/recommendations`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from paperroute.api.auth import api_user
from paperroute.api.hf import paper_object
from paperroute.api.schemas import AUTH_ERRORS, RecommendationsOut, answers
from paperroute.ranking.foryou import recommendation_json
from paperroute.ranking.recommend import WINDOWS
from paperroute.store.listings import papers_by_ids
from paperroute.store.users import User

router = APIRouter(prefix="/api")
ApiUser = Annotated[User, Depends(api_user)]


@router.get(
    "/recommendations",
    summary="Your recommendations, with reasons",
    tags=["Recommendations"],
    response_model=None,
    responses=answers(RecommendationsOut, AUTH_ERRORS),
)
def recommendations(
    request: Request,
    user: ApiUser,
    window: str = Query("week", description="day, 3days, week or month"),
    tag: str | None = Query(None, description="slug of one of your collections"),
    limit: int = Query(20, ge=1, le=100),
) -> dict:
    """Papers of the window ranked for the token's owner; each says which saved papers it is
    closest to and which terms they share."""
    if window not in WINDOWS:
        raise HTTPException(422, f"window: must be one of {', '.join(WINDOWS)}")
    result = request.app.state.services.recommender().for_reader(user.id, window, tag, limit)
    papers = {
        p.id: p for p in papers_by_ids(request.app.state.engine, [r.paper_id for r in result.items])
    }
    return {
        "window": result.window,
        "tag": result.tag,
        "cold_start": result.cold_start,
        "message": result.message,
        "candidates": result.candidates,
        "took_ms": round(result.took_ms, 1),
        "items": [
            {"paper": paper_object(papers[r.paper_id]), "reason": recommendation_json(r)}
            for r in result.items
            if r.paper_id in papers
        ],
    }
