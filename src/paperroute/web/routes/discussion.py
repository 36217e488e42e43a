"""Discussion pages: post, reply, edit, delete, upvote and report comments; the recent
discussion page; each paper's comment feeds; notifications and their one-click unsubscribe;
the moderation queue. The writes go through `app.state.discussion` (community/discussion.py),
the same use case the JSON API calls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperroute.community.discussion import RateLimited
from paperroute.community.notifications import LABELS, read_unsubscribe
from paperroute.models import paper_path
from paperroute.params import OptionalRowId, Page, RowId
from paperroute.store import comments as comment_store
from paperroute.store import notifications as notify_store
from paperroute.store.comments import CommentError, CommentForbidden, CommentNotFound
from paperroute.store.papers import get_paper
from paperroute.store.users import get_user
from paperroute.web.cache import reader_key
from paperroute.web.deps import (
    engine_of,
    json_response,
    render,
    require_admin,
    require_user,
    wants_json,
)
from paperroute.web.presenters import see_other

router = APIRouter()
# A paper's comment form and post: listed before the paper pages, whose `/papers/{paper_id:path}`
# would take these paths; the rest of the discussion comes after them (app.ROUTERS).
paper_router = APIRouter()
# RFC 8058: a mail client's one-click POST carries no session, so no CSRF token; the signed
# token in the URL authorises it (app.py lists this router without CSRF).
oneclick_router = APIRouter()
PAGE_SIZE = 50


def client_ip(request: Request) -> str:
    """The caller's address, for per-address limits."""
    return request.client.host if request.client else "unknown"


def _compose(request: Request, status: int, **context) -> Response:
    """The comment form on its own page: a failed post (with the message at the field), an
    edit, or a reply without JavaScript."""
    context.setdefault("max_chars", request.app.state.discussion.limits.max_chars)
    return render(request, "comments/compose.html", status=status, **context)


def _error_status(exc: Exception) -> int:
    if isinstance(exc, CommentNotFound):
        return 404
    if isinstance(exc, RateLimited):
        return 429
    return 403 if isinstance(exc, CommentForbidden) else 422


def _visible_paper(request: Request, paper_id: str):
    paper = get_paper(engine_of(request), paper_id)
    if paper is None or paper.hidden:
        raise HTTPException(404, f"paper {paper_id}: not found")
    return paper


@paper_router.post("/papers/{paper_id:path}/comments", name="discussion.post")
def post_comment(
    request: Request, paper_id: str, body: str = Form(""), parent_id: str = Form("")
) -> Response:
    """Post a comment, or a reply to `parent_id`."""
    user = require_user(request)
    parent = int(parent_id) if parent_id.isdigit() and len(parent_id) < 10 else None
    try:
        comment = request.app.state.discussion.post(
            user, paper_id, body, parent, ip=client_ip(request)
        )
    except (CommentError, CommentNotFound) as exc:
        if isinstance(exc, CommentNotFound) and "paper" in str(exc):
            raise HTTPException(404, str(exc)) from None
        paper = _visible_paper(request, paper_id)
        response = _compose(
            request, _error_status(exc), paper=paper, body=body, parent_id=parent,
            error=str(exc), field=getattr(exc, "field", None) or "body",
            action=f"/papers/{paper.id}/comments",
        )  # fmt: skip
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return RedirectResponse(f"{paper_path(paper_id)}#comment-{comment.id}", status_code=303)


@paper_router.get("/papers/{paper_id:path}/comments/new", name="discussion.new")
def new_comment(request: Request, paper_id: str, parent_id: OptionalRowId = None) -> Response:
    """The comment form on its own page (a reply when `parent_id` is given)."""
    require_user(request)
    paper = _visible_paper(request, paper_id)
    parent = comment_store.get_comment(engine_of(request), parent_id) if parent_id else None
    return _compose(request, 200, paper=paper, parent=parent, parent_id=parent_id,
                    action=f"/papers/{paper.id}/comments")  # fmt: skip


def _own_comment(request: Request, comment_id: int):
    user = require_user(request)
    found = comment_store.get_comment(engine_of(request), comment_id)
    if found is None or found.deleted:
        raise HTTPException(404, f"comment {comment_id}: not found")
    if found.user_id != user.id:
        raise HTTPException(403, f"comment {comment_id}: only its author may change it")
    return user, found


@router.get("/comments/{comment_id}/edit", name="discussion.edit_form")
def edit_form(request: Request, comment_id: RowId) -> Response:
    """Edit one of your comments."""
    _, found = _own_comment(request, comment_id)
    paper = _visible_paper(request, found.paper_id)
    return _compose(request, 200, paper=paper, body=found.body, editing=found,
                    action=f"/comments/{comment_id}/edit")  # fmt: skip


@router.post("/comments/{comment_id}/edit", name="discussion.edit")
def edit(request: Request, comment_id: RowId, body: str = Form("")) -> Response:
    """Save an edit of your comment (marked "edited")."""
    user, found = _own_comment(request, comment_id)
    try:
        request.app.state.discussion.edit(user, comment_id, body)
    except (CommentError, CommentNotFound) as exc:
        paper = _visible_paper(request, found.paper_id)
        return _compose(
            request, _error_status(exc), paper=paper, body=body, editing=found, error=str(exc),
            field="body", action=f"/comments/{comment_id}/edit",
        )  # fmt: skip
    return RedirectResponse(f"{paper_path(found.paper_id)}#comment-{comment_id}", status_code=303)


@router.post("/comments/{comment_id}/delete", name="discussion.delete")
def delete(request: Request, comment_id: RowId) -> Response:
    """Delete your comment; its replies stay under a "[deleted]" placeholder."""
    user, found = _own_comment(request, comment_id)
    request.app.state.discussion.delete(user, comment_id)
    return RedirectResponse(f"{paper_path(found.paper_id)}#discussion", status_code=303)


@router.post("/comments/{comment_id}/upvote", name="discussion.upvote")
def upvote(request: Request, comment_id: RowId) -> Response:
    """Flip your upvote on a comment."""
    user = require_user(request)
    try:
        voted, count = request.app.state.discussion.vote(user, comment_id)
    except CommentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except RateLimited as exc:
        raise HTTPException(429, str(exc), {"Retry-After": str(exc.retry_after)}) from None
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"id": comment_id, "voted": voted, "upvotes": count})
    found = comment_store.get_comment(engine_of(request), comment_id)
    return RedirectResponse(f"{paper_path(found.paper_id)}#comment-{comment_id}", status_code=303)


@router.get("/comments/{comment_id}/report", name="discussion.report_form")
def report_form(request: Request, comment_id: RowId) -> Response:
    """Tell the moderators what is wrong with a comment."""
    require_user(request)
    found = comment_store.get_comment(engine_of(request), comment_id)
    if found is None or found.placeholder:
        raise HTTPException(404, f"comment {comment_id}: not found")
    return render(request, "comments/report.html", comment=found)


@router.post("/comments/{comment_id}/report", name="discussion.report")
def report(request: Request, comment_id: RowId, reason: str = Form("")) -> Response:
    """Report a comment to the moderators."""
    user = require_user(request)
    try:
        new = request.app.state.discussion.report(user, comment_id, reason)
    except CommentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except CommentError as exc:
        found = comment_store.get_comment(engine_of(request), comment_id)
        return render(request, "comments/report.html", status=_error_status(exc),
                      comment=found, reason=reason, error=str(exc))  # fmt: skip
    found = comment_store.get_comment(engine_of(request), comment_id)
    return render(request, "comments/report.html", comment=found, done=True, new=new)


@router.get("/discussion", name="discussion.recent")
def recent(request: Request, p: Page = 0) -> Response:
    """The newest comments on every paper."""
    found = comment_store.recent_comments(
        engine_of(request), limit=PAGE_SIZE + 1, offset=p * PAGE_SIZE
    )
    has_more, found = len(found) > PAGE_SIZE, found[:PAGE_SIZE]
    if wants_json(request):
        return json_response(
            {"page": p, "has_more": has_more, "comments": [comment_json(c) for c in found]}
        )
    return render(request, "comments/recent.html", comments=found, page_number=p,
                  has_more=has_more)  # fmt: skip


def comment_json(c: comment_store.Comment) -> dict:
    """A comment in the pages' JSON twins and feeds."""
    return {
        "id": c.id, "paper_id": c.paper_id, "paper_title": c.paper_title, "author": c.author,
        "parent_id": c.parent_id, "body": c.body, "html": c.html, "upvotes": c.upvotes,
        "created_at": c.created_at.isoformat(), "edited": c.edited_at is not None,
        "url": f"/papers/{c.paper_id}#comment-{c.id}",
    }  # fmt: skip


@router.get("/feeds/comments/{paper_id:path}.{fmt}", name="discussion.feed")
def feed(request: Request, paper_id: str, fmt: str) -> Response:
    """A paper's comments as Atom or JSON Feed 1.1, newest first."""
    paper = _visible_paper(request, paper_id)
    found = comment_store.recent_comments(engine_of(request), limit=50, paper_id=paper.id)
    base = request.app.state.settings.base_url.rstrip("/")
    title = f"{request.app.state.settings.site_name}: comments on {paper.title}"
    if fmt == "json":
        items = [
            {"id": f"{base}/papers/{paper.id}#comment-{c.id}",
             "url": f"{base}/papers/{paper.id}#comment-{c.id}", "content_html": c.html,
             "content_text": c.body, "date_published": c.created_at.isoformat(),
             "date_modified": (c.edited_at or c.created_at).isoformat(),
             "authors": [{"name": c.author}]}
            for c in found
        ]  # fmt: skip
        return JSONResponse(
            {"version": "https://jsonfeed.org/version/1.1", "title": title,
             "home_page_url": f"{base}/papers/{paper.id}", "feed_url": f"{base}{request.url.path}",
             "items": items},
            media_type="application/feed+json",
        )  # fmt: skip
    if fmt != "atom":
        raise HTTPException(404, f"feed format {fmt!r}: use .atom or .json")
    updated = max((c.edited_at or c.created_at for c in found), default=datetime.now(UTC))
    xml = request.app.state.templates.get_template("comments/feed.xml").render(
        title=title, paper=paper, comments=found, base=base, updated=updated,
        self_url=f"{base}{request.url.path}",
    )  # fmt: skip
    return Response(xml, media_type="application/atom+xml")


def _reader_changed(request: Request, user_id: int) -> None:
    request.app.state.caches.data.pop(reader_key(user_id))  # the header's unread count


@router.get("/notifications", name="discussion.notifications")
def notifications(request: Request, p: Page = 0, message: str = "") -> Response:
    """Your notifications, newest first, and how you want them mailed."""
    user = require_user(request)
    engine = engine_of(request)
    found = notify_store.list_notifications(engine, user.id, limit=PAGE_SIZE, offset=p * PAGE_SIZE)
    prefs = notify_store.get_settings(engine, user.id)
    if wants_json(request):
        return json_response(
            {"unread": notify_store.unread_count(engine, user.id),
             "notifications": [
                 {"id": n.id, "kind": n.kind, "paper_id": n.paper_id, "comment_id": n.comment_id,
                  "actor": n.actor, "read": n.read, "created_at": n.created_at.isoformat()}
                 for n in found]}
        )  # fmt: skip
    return render(
        request, "comments/notifications.html", notifications=found, prefs=prefs, labels=LABELS,
        kinds=notify_store.KINDS, page_number=p, message=message,
    )  # fmt: skip


@router.post("/notifications/read", name="discussion.mark_read")
def mark_read(request: Request, notification_id: str = Form("")) -> Response:
    """Mark one notification read (`notification_id`), or all of them."""
    user = require_user(request)
    ids = (
        [int(notification_id)] if notification_id.isdigit() and len(notification_id) < 10 else None
    )
    notify_store.mark_read(engine_of(request), user.id, ids)
    _reader_changed(request, user.id)
    return see_other(request, "discussion.notifications")


@router.post("/notifications/settings", name="discussion.settings")
def save_settings(
    request: Request,
    mail: str = Form(""),
    mail_kind: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Choose instant mail, a daily batch or no mail, and which kinds to mail."""
    return _save_settings(request, mail, mail_kind or [])


def _save_settings(request: Request, mail: str, kinds: list[str]) -> Response:
    user = require_user(request)
    if mail not in notify_store.MAIL_MODES:
        raise HTTPException(422, f"mail: choose one of {', '.join(notify_store.MAIL_MODES)}")
    muted = [k for k in notify_store.KINDS if k not in kinds]
    notify_store.set_settings(engine_of(request), user.id, mail, muted)
    return see_other(request, "discussion.notifications", message="Saved")


@router.get("/notifications/unsubscribe", name="discussion.unsubscribe_page")
def unsubscribe_page(request: Request, token: str = "") -> Response:
    """Confirm stopping one kind of notification mail (a GET never changes anything)."""
    try:
        user_id, kind = read_unsubscribe(request.app.state.settings, token)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return render(request, "comments/unsubscribe.html", token=token, kind=kind, labels=LABELS,
                  member=get_user(engine_of(request), user_id))  # fmt: skip


@oneclick_router.post("/notifications/unsubscribe", name="discussion.unsubscribe")
def unsubscribe(request: Request, token: str = "") -> Response:
    """Stop one kind of notification mail: the page's button or a mail client's one-click POST."""
    return _unsubscribe(request, token)


def _unsubscribe(request: Request, token: str) -> Response:
    try:
        user_id, kind = read_unsubscribe(request.app.state.settings, token)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    notify_store.mute_kind(engine_of(request), user_id, kind)
    return render(request, "comments/unsubscribe.html", done=True, kind=kind, labels=LABELS,
                  member=get_user(engine_of(request), user_id))  # fmt: skip


admin_router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])


@admin_router.get("/moderation", name="discussion.moderation")
def moderation(request: Request, message: str = "") -> Response:
    """Reported comments, most reported first, with what a moderator can do."""
    queue = comment_store.moderation_queue(engine_of(request))
    return render(request, "comments/moderation.html", queue=queue, message=message)


@admin_router.post("/comments/{comment_id}/moderate", name="discussion.moderate")
def moderate(request: Request, comment_id: RowId, action: str = Form("")) -> Response:
    """Hide, unhide or delete a comment, or dismiss its reports."""
    try:
        request.app.state.discussion.moderate(comment_id, action)
    except CommentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except CommentError as exc:
        raise HTTPException(422, str(exc)) from None
    return see_other(request, "discussion.moderation", message=f"comment {comment_id}: {action}")


@admin_router.post("/users/{user_id}/ban", name="discussion.ban")
def ban(request: Request, user_id: RowId, reason: str = Form("")) -> Response:
    """Ban a member from the discussion; every comment of theirs is hidden."""
    admin = require_admin(request)
    try:
        hidden = request.app.state.discussion.ban(admin, user_id, reason[:1000])
    except CommentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except CommentError as exc:
        raise HTTPException(422, str(exc)) from None
    message = f"member {user_id} banned, {hidden} comments hidden"
    return see_other(request, "discussion.moderation", message=message)
