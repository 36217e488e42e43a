"""JSON API: Hugging Face-compatible daily papers and paper endpoints, search, similar, votes,
collections. Reads are public; writes take a per-user API token (Authorization: Bearer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paperroute.api.auth import api_user
from paperroute.api.hf import daily_entry, paper_object
from paperroute.api.schemas import (
    AUTH_ERRORS,
    DEMO_DAY,
    DEMO_MONTH,
    DEMO_PAPER,
    DEMO_QUERY,
    DEMO_WEEK,
    CollectionOut,
    DailyEntry,
    ErrorOut,
    PaperOut,
    RemovedOut,
    SavedOut,
    SubmittedOut,
    TrendingEntry,
    answers,
)
from paperroute.models import Paper
from paperroute.params import Page, RowId
from paperroute.ranking import leaderboard
from paperroute.sources.submit import submit_paper
from paperroute.store import collections as coll_store
from paperroute.store import listings
from paperroute.store.papers import get_paper
from paperroute.store.submissions import Limits, SubmissionError
from paperroute.store.users import User
from paperroute.store.votes import UnknownPaper, set_vote

router = APIRouter(prefix="/api")
# The areas of /docs and /openapi.json, in this order.
OPENAPI_TAGS = [
    {"name": "Daily papers", "description": "Hugging Face-compatible lists of papers by day."},
    {"name": "Papers", "description": "One paper, and papers similar to it."},
    {"name": "Search", "description": "Full-text and semantic search."},
    {"name": "Trending", "description": "Papers ranked by recent votes and saves."},
    {"name": "Votes", "description": "Your upvotes (API token needed)."},
    {"name": "Submissions", "description": "Put a paper on the daily page (API token needed)."},
    {"name": "Collections", "description": "Your saved papers (API token for writes)."},
    {"name": "Recommendations", "description": "Papers picked for you (API token needed)."},
    {"name": "Discussion", "description": "Comments on papers (API token for writes)."},
]
ApiUser = Annotated[User, Depends(api_user)]


def _engine(request: Request):
    return request.app.state.engine


def _period(date: str | None, week: str | None, month: str | None):
    try:
        if date:
            day = listings.parse_day(date)
            return day, day
        if week:
            return listings.week_range(week)
        if month:
            return listings.month_range(month)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return None, None


PaperId = Annotated[str, Path(description="arXiv id", examples=[DEMO_PAPER])]


@router.get(
    "/daily_papers",
    summary="Daily papers (Hugging Face-compatible)",
    tags=["Daily papers"],
    response_model=None,
    responses=answers(list[DailyEntry]),
)
def daily_papers(
    request: Request,
    date: str | None = Query(None, description="YYYY-MM-DD", examples=[DEMO_DAY]),
    week: str | None = Query(None, description="ISO week YYYY-Www", examples=[DEMO_WEEK]),
    month: str | None = Query(None, description="YYYY-MM", examples=[DEMO_MONTH]),
    submitter: str | None = Query(
        None, description="Hugging Face user name of the submitter, or a member's handle"
    ),
    sort: Literal["publishedAt", "trending"] = Query("publishedAt"),
    p: Page = 0,
    limit: int = Query(50, ge=1, le=100),
) -> list[dict]:
    """Papers of a day/week/month (default: newest first across days), in HF's entry shape."""
    engine = _engine(request)
    start, end = _period(date, week, month)
    if sort == "trending" and not submitter:
        ranked = leaderboard.list_trending(
            engine, datetime.now(UTC), limit=limit, offset=p * limit, start=start, end=end
        )
        return [daily_entry(paper) for paper, _ in ranked]
    mode = request.app.state.settings.daily_page  # the daily page's papers, submitted ones too
    flt = listings.PaperFilter(start=start, end=end, submitter=submitter, mode=mode)
    papers, _ = listings.list_papers(engine, flt, order="published", limit=limit, offset=p * limit)
    return [daily_entry(x) for x in papers]


def _search_papers(request: Request, q: str, limit: int) -> list[Paper]:
    service = request.app.state.search_provider()
    if service is None:
        raise HTTPException(503, "search is not available on this server right now")
    result = service.search(q, limit=limit)
    return listings.papers_by_ids(_engine(request), [h.id for h in result.hits])


@router.get(
    "/papers/search",
    summary="Search papers (Hugging Face-compatible)",
    tags=["Search"],
    response_model=None,
    responses=answers(list[DailyEntry]),
)
def search_papers(
    request: Request,
    q: str = Query(
        ..., min_length=1, max_length=500, description="words or a question", examples=[DEMO_QUERY]
    ),
    limit: int = Query(20, ge=1, le=100),
) -> list[dict]:
    """Hybrid search; HF's entry shape."""
    return [daily_entry(p) for p in _search_papers(request, q, limit)]


def _visible_paper(request: Request, paper_id: str) -> Paper:
    paper = get_paper(_engine(request), paper_id)
    if paper is None or paper.hidden:
        raise HTTPException(404, f"paper {paper_id}: not found")
    return paper


@router.get(
    "/papers/{paper_id:path}/similar",
    summary="Similar papers",
    tags=["Papers"],
    response_model=None,
    responses=answers(list[DailyEntry]),
)
def similar(request: Request, paper_id: PaperId, k: int = Query(10, ge=1, le=50)) -> list[dict]:
    """Papers nearest in meaning to this one; HF's entry shape."""
    _visible_paper(request, paper_id)
    service = request.app.state.search_provider()
    if service is None:
        raise HTTPException(503, "search is not available on this server right now")
    ids = [h.id for h in service.similar(paper_id, k=k).hits]
    return [
        daily_entry(p) for p in listings.papers_by_ids(_engine(request), ids) if p.id != paper_id
    ]


class VoteOut(BaseModel):
    """A paper's votes after a change."""

    paper_id: str
    voted: bool
    upvotes: int = Field(description="local votes")
    hf_upvotes: int
    total_upvotes: int


def _vote(request: Request, user: User, paper_id: str, on: bool) -> VoteOut:
    request.app.state.limiter.check(f"vote:{user.id}", 60, 60)
    try:
        voted, local, hf = set_vote(_engine(request), user.id, paper_id, on)
    except UnknownPaper:
        raise HTTPException(404, f"paper {paper_id}: not found") from None
    request.app.state.caches.changed("votes", user.id)
    return VoteOut(
        paper_id=paper_id, voted=voted, upvotes=local, hf_upvotes=hf, total_upvotes=local + hf
    )


class SubmitIn(BaseModel):
    """A paper to submit."""

    arxiv: str = Field(
        max_length=500, description="arXiv id or URL"
    )  # no example: it would fetch from arXiv


@router.post(
    "/submissions",
    summary="Submit a paper to the daily page",
    tags=["Submissions"],
    status_code=201,
    response_model=None,
    responses=answers(SubmittedOut, {**AUTH_ERRORS, 429: {"model": ErrorOut}}, status=201),
)
def submit(request: Request, body: SubmitIn, user: ApiUser) -> JSONResponse:
    """Fetch the paper from arXiv (when new here) and submit it as yours; the instance's limits
    apply (paper age, one submission per paper, a daily quota, a rate per address)."""
    limits = Limits.from_settings(request.app.state.settings)
    host = request.client.host if request.client else "unknown"
    request.app.state.limiter.check(f"submit-ip:{host}", limits.hourly_rate(user), 3600)
    try:
        paper_id = submit_paper(request.app.state.ingest, user, body.arxiv, limits)
    except SubmissionError as exc:
        raise HTTPException(422, str(exc)) from None
    request.app.state.caches.changed("paper")
    return JSONResponse({"paper": paper_object(_visible_paper(request, paper_id))}, 201)


@router.post(
    "/papers/{paper_id:path}/upvote",
    summary="Upvote a paper",
    tags=["Votes"],
    responses=AUTH_ERRORS,
)
def upvote(request: Request, paper_id: PaperId, user: ApiUser) -> VoteOut:
    """Add your upvote (idempotent)."""
    return _vote(request, user, paper_id, True)


@router.delete(
    "/papers/{paper_id:path}/upvote",
    summary="Remove your upvote",
    tags=["Votes"],
    responses=AUTH_ERRORS,
)
def unvote(request: Request, paper_id: PaperId, user: ApiUser) -> VoteOut:
    """Remove your upvote (idempotent)."""
    return _vote(request, user, paper_id, False)


@router.get(
    "/papers/{paper_id:path}",
    summary="One paper (Hugging Face-compatible)",
    tags=["Papers"],
    response_model=None,
    responses=answers(PaperOut),
)
def paper_info(request: Request, paper_id: PaperId) -> dict:
    """HF's paper object."""
    return paper_object(_visible_paper(request, paper_id))


class CollectionIn(BaseModel):
    """A new collection."""

    name: str = Field(min_length=1, max_length=255, examples=["Reading list"])
    public: bool = False
    description: str = ""


def _collection_json(c: coll_store.Collection, papers: list[Paper] | None = None) -> dict:
    out = {"id": c.id, "name": c.name, "public": c.is_public, "description": c.description,
           "size": c.size}  # fmt: skip
    if papers is not None:
        out["papers"] = [paper_object(p) for p in papers]
    return out


@router.get(
    "/collections",
    summary="Your collections",
    tags=["Collections"],
    response_model=None,
    responses=answers(list[CollectionOut], AUTH_ERRORS),
)
def my_collections(request: Request, user: ApiUser) -> list[dict]:
    """Collections of the token's owner."""
    return [_collection_json(c) for c in coll_store.list_collections(_engine(request), user.id)]


@router.post(
    "/collections",
    status_code=201,
    summary="Create a collection",
    tags=["Collections"],
    response_model=None,
    responses=answers(CollectionOut, AUTH_ERRORS, status=201),
)
def create_collection(request: Request, body: CollectionIn, user: ApiUser) -> dict:
    """Create a collection."""
    try:
        coll = coll_store.create_collection(
            _engine(request),
            user.id,
            body.name,
            is_public=body.public,
            description=body.description,
        )
    except coll_store.CollectionError as exc:
        raise HTTPException(422, str(exc)) from None
    request.app.state.caches.changed("collection")
    return _collection_json(coll)


@router.get(
    "/collections/{collection_id}",
    summary="A collection and its papers",
    tags=["Collections"],
    response_model=None,
    responses=answers(CollectionOut),
)
def collection(request: Request, collection_id: RowId) -> dict:
    """A public collection (or your own, with your token)."""
    engine = _engine(request)
    coll = coll_store.get_collection(engine, collection_id)
    if coll is not None and not coll.is_public:
        try:
            owner = api_user(request).id == coll.user_id
        except HTTPException:
            owner = False
        coll = coll if owner else None
    if coll is None:
        raise HTTPException(404, f"collection {collection_id}: not found")
    papers = listings.papers_by_ids(engine, coll_store.collection_paper_ids(engine, coll.id))
    return _collection_json(coll, papers)


@router.post(
    "/collections/{collection_id}/papers",
    summary="Save a paper into a collection",
    tags=["Collections"],
    responses=AUTH_ERRORS,
)
def add_to_collection(
    request: Request,
    collection_id: RowId,
    user: ApiUser,
    paper_id: str = Body(..., embed=True, examples=[DEMO_PAPER]),
) -> SavedOut:
    """Save a paper; `added` is false when it was already there."""
    try:
        added = coll_store.add_paper(_engine(request), user.id, collection_id, paper_id)
    except coll_store.CollectionError as exc:
        raise HTTPException(404, str(exc)) from None
    request.app.state.caches.changed("collection")
    return SavedOut(collection_id=collection_id, paper_id=paper_id, added=added)


@router.delete(
    "/collections/{collection_id}/papers/{paper_id:path}",
    summary="Remove a paper from a collection",
    tags=["Collections"],
    responses=AUTH_ERRORS,
)
def remove_from_collection(
    request: Request, collection_id: RowId, paper_id: PaperId, user: ApiUser
) -> RemovedOut:
    """Take a paper out of your collection."""
    try:
        removed = coll_store.remove_paper(_engine(request), user.id, collection_id, paper_id)
    except coll_store.CollectionError as exc:
        raise HTTPException(404, str(exc)) from None
    request.app.state.caches.changed("collection")
    return RemovedOut(collection_id=collection_id, paper_id=paper_id, removed=removed)


@router.get(
    "/trending",
    summary="Trending papers with score breakdowns",
    tags=["Trending"],
    response_model=None,
    responses=answers(list[TrendingEntry], {}),
)
def trending(request: Request, limit: int = Query(50, ge=1, le=100)) -> list[dict]:
    """Papers by trending score; each entry carries `trending` (score and its parts)."""
    ranked = leaderboard.list_trending(_engine(request), datetime.now(UTC), limit=limit)
    return [
        {**daily_entry(p), "trending": {**s.__dict__, "explain": s.explain()}} for p, s in ranked
    ]
