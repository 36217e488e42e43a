"""Request helpers shared by page routes: the store, the signed-in user, rendering, page cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from markupsafe import Markup
from sqlalchemy import Engine

from paperroute.store.users import User, get_user
from paperroute.web import personal
from paperroute.web.cache import UNRANKED_HEADER
from paperroute.web.lookups import quick
from paperroute.web.security import csrf_token

T = TypeVar("T")


async def run_quick(request: Request, handler: Callable[..., T], *args: Any) -> T:
    """Run a sync handler that does only primary-key lookups and a render (web/lookups.quick:
    on the event loop on SQLite, in a thread on PostgreSQL)."""
    return await quick(request.app.state.engine, handler, *args)


WRITE_THREADS = 4  # threads for handlers that mostly wait for the database's write lock


async def run_write(request: Request, handler: Callable[..., T], *args: Any) -> T:
    """Run a sync handler that writes (a vote) in threads of its own, not the page threads.

    A write waits for the database's write lock (on SQLite, while an import or a digest run
    writes), and waiting must not hold one of the few threads that render pages (web_threads):
    bench/load.py's 40 voters kept both of them waiting, and pages queued behind the votes
    (GET / p95 547 ms while cached searches answered in 50 ms).
    """
    state = request.app.state
    if getattr(state, "write_limiter", None) is None:  # made in the event loop that uses it
        state.write_limiter = anyio.CapacityLimiter(WRITE_THREADS)
    return await anyio.to_thread.run_sync(handler, *args, limiter=state.write_limiter)


def engine_of(request: Request) -> Engine:
    """The app's database engine."""
    return request.app.state.engine


def search_service(request: Request, wait: bool = True) -> Any | None:
    """The search service (built on first use), or None when search is unavailable.

    With `wait=False`, None also while the service is still loading in the background.
    """
    if not wait:
        return request.app.state.search_if_ready()
    return request.app.state.search_provider()


def current_user(request: Request) -> User | None:
    """The signed-in user (looked up once per request), or None."""
    if "user" not in request.state._state:
        uid = request.session.get("uid") if "session" in request.scope else None
        user = None
        if uid:  # shared a few seconds like other data: a role change shows within the TTL
            user = request.app.state.data_cache.remember(
                ("user", uid), lambda: get_user(engine_of(request), uid)
            )
        if uid and user is None:
            request.session.clear()  # the account was deleted
        request.state.user = user
    return request.state.user


def require_user(request: Request) -> User:
    """The signed-in user; 401 with a sign-in hint otherwise."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "Sign in first")
    return user


def require_admin(request: Request) -> User:
    """The signed-in admin; 403 for anyone else."""
    user = current_user(request)
    if user is None or not user.is_admin:
        raise HTTPException(403, "Admins only")
    return user


def client_key(request: Request) -> str:
    """Who is asking, for rate limits: the user id, else the client address."""
    user = current_user(request)
    if user is not None:
        return f"user:{user.id}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


def personal_parts_wanted(request: Request) -> User | None:
    """The signed-in user when this render needs their votes and collections; None when
    nobody is signed in or the page is rendered once for all readers (web/personal.py)."""
    user = current_user(request)
    return None if request.scope.get(personal.SHARED_SCOPE_KEY) else user


def render(
    request: Request,
    template: str,
    status: int = 200,
    shared: bool = False,
    ranked: bool = True,
    **context: Any,
) -> HTMLResponse:
    """Render a page template with the request, user and CSRF token helper.

    `shared=True` says the page is the same for every signed-in reader but for the token, the
    name, their votes and their collections: it is then rendered with markers for those, once
    per URL, and personalised per request (web/personal.py).

    `ranked=False` says votes do not order the page (a paper's page, search by relevance): its
    vote counts are filled in as it is served (web/livevotes.py), so the caches keep it across
    votes; a ranked page is rendered again within VOTES_REORDER_WITHIN_S of a vote.
    """
    env = request.app.state.templates
    user: Any = current_user(request)
    token = lambda: csrf_token(request)  # noqa: E731
    headers = None
    reader = None
    if shared and user is not None and request.scope.get(personal.SHARED_SCOPE_KEY):
        user = personal.SkeletonUser(is_admin=user.is_admin)
        token = lambda: personal.CSRF_MARK  # noqa: E731
        context.update(
            voted=set(),
            skeleton=True,
            save_slot=lambda paper_id: Markup(personal.SAVE_MARK) % paper_id,
        )
        context["unread_badge"] = Markup(personal.UNREAD_MARK)
        headers = {personal.SHARED_HEADER.decode(): "1"}
    elif user is not None:  # rendered for this reader alone
        reader = personal.reader_of(request.app.state, user.id)
        context["unread_badge"] = personal.unread_badge(reader.unread if reader else 0)
    html = env.get_template(template).render(
        request=request,
        user=user,
        csrf_token=token,
        path=request.url.path,
        demo_days=demo_banner(request),
        **context,
    )
    if reader is not None:  # rendered for this reader alone: fill its save slots now
        html = personal.fill_save_slots(html, request.app.state, reader, csrf_token(request))
    if not ranked:
        headers = {**(headers or {}), UNRANKED_HEADER.decode(): "1"}
    return HTMLResponse(html, status_code=status, headers=headers)


def demo_banner(request: Request) -> tuple | None:
    """(first day, last day, days) of the demo corpus when its banner is to be shown, else None."""
    days = getattr(request.app.state, "demo_days", None)
    if days is None or (
        "session" in request.scope and request.session.get(personal.DEMO_DISMISSED)
    ):
        return None
    return days


def wants_json(request: Request) -> bool:
    """True when the page's JSON twin is asked for (`?format=json`)."""
    return request.query_params.get("format") == "json"


def accepts_json(request: Request) -> bool:
    """True when a form post comes from a script that asked for JSON (no redirect wanted)."""
    return wants_json(request) or "application/json" in request.headers.get("accept", "")


def json_response(data: Any, status: int = 200) -> JSONResponse:
    """A JSON response (dates as ISO strings)."""
    return JSONResponse(data, status_code=status)
