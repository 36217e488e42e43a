"""JSON API for paper discussions: read a thread (public, paged by top-level comment), and post,
edit, delete and upvote comments with an API token. Hugging Face has no API for comments
(huggingface_hub issue 3560); this one is paperroute's own. Writes go through
`app.state.discussion`, the use case the pages call, so limits and notifications are the same.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from paperroute.api.auth import api_user
from paperroute.api.schemas import AUTH_ERRORS, DEMO_PAPER, ErrorOut
from paperroute.community.discussion import RateLimited
from paperroute.params import MAX_ROW_ID, Page
from paperroute.store import comments as store
from paperroute.store.comments import Comment, CommentError, CommentForbidden, CommentNotFound
from paperroute.store.papers import get_paper
from paperroute.store.users import User

router = APIRouter(prefix="/api", tags=["Discussion"])
ApiUser = Annotated[User, Depends(api_user)]
PaperId = Annotated[str, Path(description="arXiv id", examples=[DEMO_PAPER])]
CommentId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A comment id")]
WRITE_ERRORS = {
    **AUTH_ERRORS,
    403: {"model": ErrorOut, "description": "Not your comment, or you are banned"},
    429: {"model": ErrorOut, "description": "Too many comments: see Retry-After"},
}


class CommentIn(BaseModel):
    """A new comment: Markdown with `$..$` LaTeX math and `@name` mentions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"body": "Does $O(n \\log n)$ hold for @AdaLovelace's bound?"}]
        }
    )
    body: str = Field(
        description="Markdown; raw HTML is shown as text",
        examples=["Does the $O(n \\log n)$ bound hold for long inputs?"],
    )
    parentId: int | None = Field(None, ge=1, le=MAX_ROW_ID, description="reply to this comment")


class CommentEdit(BaseModel):
    """New text for your comment."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"body": "Corrected: $O(n)$."}]})
    body: str


class AuthorOut(BaseModel):
    """Who wrote a comment."""

    name: str = Field(description='"deleted member" once the account is gone')
    deleted: bool = False


class CommentOut(BaseModel):
    """One comment with its replies; a deleted or hidden one with replies keeps its place with
    empty text."""

    id: int
    paperId: str
    parentId: int | None
    author: AuthorOut
    body: str = Field(description="the Markdown as written")
    html: str = Field(description="sanitised HTML rendering")
    upvotes: int
    createdAt: str
    editedAt: str | None = None
    deleted: bool = False
    hidden: bool = False
    replies: list[CommentOut] = []


class ThreadOut(BaseModel):
    """A page of a paper's discussion: top-level comments, oldest first, each with all replies."""

    paperId: str
    numComments: int
    page: int
    limit: int
    totalThreads: int = Field(description="top-level comments on all pages")
    comments: list[CommentOut]


class DeletedOut(BaseModel):
    """A deleted comment."""

    id: int
    deleted: bool = True


class CommentVoteOut(BaseModel):
    """A comment's upvotes after a change."""

    id: int
    voted: bool
    upvotes: int


def comment_out(c: Comment) -> dict:
    """A comment (and its replies) in the API's shape."""
    return {
        "id": c.id, "paperId": c.paper_id, "parentId": c.parent_id,
        "author": {"name": c.author, "deleted": c.user_id is None},
        "body": c.body, "html": c.html, "upvotes": c.upvotes,
        "createdAt": c.created_at.isoformat(),
        "editedAt": c.edited_at.isoformat() if c.edited_at else None,
        "deleted": c.deleted, "hidden": c.hidden, "replies": [comment_out(r) for r in c.replies],
    }  # fmt: skip


def _fail(exc: Exception) -> HTTPException:
    if isinstance(exc, CommentNotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, RateLimited):
        return HTTPException(429, str(exc), {"Retry-After": str(exc.retry_after)})
    return HTTPException(403 if isinstance(exc, CommentForbidden) else 422, str(exc))


@router.get(
    "/papers/{paper_id:path}/comments",
    summary="A paper's discussion (threaded, paged)",
    response_model=ThreadOut,
    responses={404: {"model": ErrorOut, "description": "Not found"}},
)
def paper_comments(
    request: Request, paper_id: PaperId, p: Page = 0, limit: int = Query(20, ge=1, le=100)
) -> dict:
    """Top-level comments `p*limit` to `(p+1)*limit`, oldest first, each with every reply."""
    engine = request.app.state.engine
    paper = get_paper(engine, paper_id)
    if paper is None or paper.hidden:
        raise HTTPException(404, f"paper {paper_id}: not found")
    roots = store.thread(engine, paper.id)
    shown = roots[p * limit : (p + 1) * limit]
    return {"paperId": paper.id, "numComments": paper.num_comments, "page": p, "limit": limit,
            "totalThreads": len(roots), "comments": [comment_out(c) for c in shown]}  # fmt: skip


@router.post(
    "/papers/{paper_id:path}/comments",
    status_code=201,
    summary="Comment on a paper",
    response_model=CommentOut,
    responses=WRITE_ERRORS,
)
def post_comment(request: Request, paper_id: PaperId, body: CommentIn, user: ApiUser) -> dict:
    """Post a comment, or a reply with `parentId`; the repliee and mentioned members are told."""
    ip = request.client.host if request.client else "unknown"
    try:
        found = request.app.state.discussion.post(user, paper_id, body.body, body.parentId, ip=ip)
    except (CommentError, CommentNotFound) as exc:
        raise _fail(exc) from None
    return comment_out(found)


@router.patch(
    "/comments/{comment_id}",
    summary="Edit your comment",
    response_model=CommentOut,
    responses=WRITE_ERRORS,
)
def edit_comment(request: Request, comment_id: CommentId, body: CommentEdit, user: ApiUser) -> dict:
    """Replace your comment's text; it is marked as edited."""
    try:
        return comment_out(request.app.state.discussion.edit(user, comment_id, body.body))
    except (CommentError, CommentNotFound) as exc:
        raise _fail(exc) from None


@router.delete(
    "/comments/{comment_id}",
    summary="Delete your comment",
    response_model=DeletedOut,
    responses=WRITE_ERRORS,
)
def delete_comment(request: Request, comment_id: CommentId, user: ApiUser) -> dict:
    """Delete your comment; its replies stay, under a placeholder."""
    try:
        request.app.state.discussion.delete(user, comment_id)
    except (CommentError, CommentNotFound) as exc:
        raise _fail(exc) from None
    return {"id": comment_id, "deleted": True}


@router.post(
    "/comments/{comment_id}/upvote",
    summary="Flip your upvote on a comment",
    response_model=CommentVoteOut,
    responses=WRITE_ERRORS,
)
def upvote_comment(request: Request, comment_id: CommentId, user: ApiUser) -> JSONResponse:
    """Add your upvote, or take it back if you had given it."""
    try:
        voted, count = request.app.state.discussion.vote(user, comment_id)
    except (CommentError, CommentNotFound) as exc:
        raise _fail(exc) from None
    return JSONResponse({"id": comment_id, "voted": voted, "upvotes": count})
