"""The composition root: `create_app(settings)` builds the engine, templates, routers and security.

Nothing is created at import time; every app gets its own engine, caches and limits, so tests can
run several apps side by side. The services the app's requests and background jobs share are built
once here (`app.state.services`). Routers are imported and listed in ROUTERS.
"""

from __future__ import annotations

import gc
import logging
import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.routing import BaseRoute

from paperroute.api import comments as api_comments
from paperroute.api import recommendations as api_recommendations
from paperroute.api import routes as api_routes
from paperroute.api.routes import OPENAPI_TAGS
from paperroute.community.discussion import CommentLimits, Discussion
from paperroute.community.notifications import MailKicker, notify_followers_of_new_papers
from paperroute.config import Settings
from paperroute.jobs.imports import ImportRunner
from paperroute.services import FixedSearch, LazySearch, SearchProvider, Services
from paperroute.sources.ingest import Ingest
from paperroute.store.engine import check_schema, make_engine, migrate
from paperroute.store.papers import demo_days
from paperroute.store.votes import user_voted_ids, vote_counts
from paperroute.web import ops
from paperroute.web.cache import Caches, PageCacheMiddleware, reader_key
from paperroute.web.commentmark import render_comment
from paperroute.web.deps import render
from paperroute.web.livevotes import LiveVotes, VoteCountMiddleware
from paperroute.web.ops import RequestMetricsMiddleware
from paperroute.web.personal import SharedPageMiddleware
from paperroute.web.protocol import HeadAsGetMiddleware, refuse_nul
from paperroute.web.routes import (
    accounts,
    admin,
    collections,
    discussion,
    docs,
    feeds,
    foryou,
    members,
    orgs,
    papers,
    site,
    sources,
    submit,
    subscriptions,
    venues,
    votes,
)
from paperroute.web.routes import search as search_routes
from paperroute.web.routes.site import api_console_assets
from paperroute.web.security import (
    RateLimiter,
    SecurityHeadersMiddleware,
    ServerSessionMiddleware,
    SessionCookieMiddleware,
    csrf_protect,
)
from paperroute.web.templating import STATIC, make_environment
from paperroute.web.threadview import ThreadSlotMiddleware
from paperroute.web.urls import PagePaths

# Page routers (HTML forms, CSRF-protected): adding an area is one line. The most visited pages
# first: FastAPI tries the routes in order (~2.4 us each), and a paper page came after 57 of them.
HOT_ROUTERS = [
    votes.router,  # before papers: /papers/{id}/upvote
    discussion.paper_router,  # before papers: /papers/{id}/comments, /papers/{id}/comments/new
    papers.router,  # daily, trending, paper pages
]
ROUTERS = [
    *HOT_ROUTERS,
    discussion.router,
    venues.router,  # /venues, /journals
    search_routes.router,
    accounts.router,
    collections.router,
    admin.router,
    sources.router,  # /admin/sources
    feeds.router,
    docs.router,
    subscriptions.router,
    discussion.admin_router,
    foryou.router,
    submit.router,
    members.router,
    orgs.router,
    site.router,
]
# RFC 8058 one-click unsubscribe: mail clients POST without a session, so no CSRF token;
# the signed token in the URL authorises it.
NO_CSRF_ROUTERS = [
    subscriptions.oneclick_router,
    site.nocsrf_router,  # dismissing the demo banner
    discussion.oneclick_router,  # notification mail's unsubscribe
]
# JSON API routers (bearer tokens or CSRF header for writes).
API_ROUTERS = [
    api_comments.router,  # before routes: its /api/papers/{id}/comments is more specific
    api_routes.router,
    api_recommendations.router,
]

if TYPE_CHECKING:
    from paperroute.search.service import SearchService

log = logging.getLogger("paperroute.web")


def _warm_pages(env) -> None:
    """Compile every page template at start-up (the first search page compiled a dozen) and load
    the For-you model's library (the process's first For-you page took 3 s)."""
    from paperroute.ranking.recommend import load_model_library

    for name in env.list_templates(extensions=("html", "xml", "md", "txt")):
        env.get_template(name)
    load_model_library()


def _build_routes(app: FastAPI) -> None:
    """Have FastAPI prepare every route's request handling now: it does so the first time a
    request is matched against each router, and the process's first search, whose router
    comes late, paid for all 132 routes after /readyz said ready (115 ms of CPU)."""
    for route in app.router.routes:
        prepare = getattr(route, "effective_route_contexts", None)  # an included router
        if prepare is not None:
            for _ in prepare():
                pass


# A full collection (generation 2) at most once per this many collections of the middle one
# (CPython: 10). Pages fill bounded caches with long-lived objects (papers, shared pages, text
# rendered once: ~95k tracked objects after a sweep of the demo's papers), and each full
# collection walked them all: 7 of ~35 ms in 3,010 cold signed-in paper pages, 0.08 ms of CPU
# a page (bench/page_cpu.py), every one a pause that each waiting reader sat through. What only
# a full collection frees is little: 12,400 objects after those 3,010 pages.
FULL_COLLECTION_EVERY = 100


def freeze_startup_heap() -> None:
    """Exempt what start-up loaded from the cyclic garbage collector: the model, the indexes and
    the compiled templates (~400k objects) live as long as the process, and under load every
    full collection walked them all, a ~300 ms pause every few seconds (bench/web.py, cold
    paper pages: 0.27 ms of CPU a request in the collector). Then full collections come
    seldom (FULL_COLLECTION_EVERY)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def _make_searchable(search_if_ready, caches: Caches):
    """What the web process does after any ingest: index (and, for a few papers, embed) what
    changed, and drop the pages it makes stale. Search still loading: its start-up catch-up
    reads the new rows."""

    def on_stored(ids: list[str]) -> None:
        search = search_if_ready()
        if search is not None:
            search.papers_stored(ids)
        caches.changed("paper")

    return on_stored


def create_app(
    settings: Settings,
    *,
    migrate_schema: bool = False,
    engine: Engine | None = None,
    search: SearchService | None = None,
    page_cache_ttl: float = 10.0,
    warm_search: bool = False,
    enable_search: bool = True,
) -> FastAPI:
    """Build the web app; refuses a stale database schema unless `migrate_schema` is set.

    `search` injects a ready SearchService; `enable_search=False` runs without one (pages that
    need it answer 503, paper pages omit similar papers).
    """
    settings.check_production()
    engine = _open_store(settings, engine, migrate_schema)
    app = _new_app(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.demo_days = demo_days(engine)  # the demo banner's days, once per process
    app.state.templates = make_environment(settings.site_name, settings.base_url)
    app.state.limiter = RateLimiter()
    # Every cache, and which ones each kind of write makes stale (web/cache.Caches.changed).
    caches = app.state.caches = Caches(
        page_cache_ttl,
        app.state.templates.globals["paper_card"].cache,
        LiveVotes(lambda ids: vote_counts(engine, ids), page_cache_ttl),
        lambda user_id: user_voted_ids(engine, user_id),
    )
    app.state.data_cache, app.state.shared_pages = caches.data, caches.shared_pages
    app.state.page_cache, app.state.similar_cache = caches.pages, caches.similar
    app.state.log = log
    provider = _search_provider(settings, app, search, enable_search)
    if warm_search:  # load the model and open the indexes now, not on a reader's request
        provider.ready()
    app.state.search_provider, app.state.search_if_ready = provider.get, provider.ready
    app.state.search_status = provider.status
    on_stored = _make_searchable(provider.ready, caches)
    # Late-bound: the services are built below, from the ingest that needs the kicker.
    app.state.notify_mail = MailKicker(settings, engine, lambda: app.state.services.mailer())
    on_added = _tell_followers(settings, engine, caches, app.state.notify_mail.kick)
    # every web path that adds papers, and the jobs this process runs (run_jobs_in_web)
    app.state.ingest = Ingest(engine, settings, on_stored, on_added)
    app.state.services = Services(settings, engine, provider, app.state.ingest)
    app.state.imports = ImportRunner(settings, engine, on_stored)
    app.state.discussion = _discussion(
        settings, engine, app.state.limiter, caches, app.state.notify_mail
    )
    _add_middleware(app, settings, engine, caches)
    _add_routes(app)
    app.state.url_for = PagePaths(_named_routes(app))  # redirects name their page as links do
    app.state.url_for.install(app.state.templates)
    _install_error_pages(app)
    return app


def _open_store(settings: Settings, engine: Engine | None, migrate_schema: bool) -> Engine:
    """The app's database, migrated to the current schema or checked to be at it."""
    engine = engine or make_engine(settings.sqlalchemy_url)
    if migrate_schema:
        migrate(engine)
    else:
        check_schema(engine)
    return engine


def _new_app(settings: Settings) -> FastAPI:
    """The bare FastAPI app: its OpenAPI description, lifespan and app-wide dependencies."""
    return FastAPI(
        title=f"{settings.site_name} API",
        description="Hugging Face-compatible daily papers API plus paperroute's own endpoints.",
        version="1",
        # /docs is our own page; /docs/console is Swagger UI from the fastapi-offline wheel
        # (FastAPI's built-in one loads scripts from a CDN and runs an inline script).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=_lifespan,
        dependencies=[Depends(refuse_nul)],
        openapi_tags=OPENAPI_TAGS,
    )


def _search_provider(
    settings: Settings, app: FastAPI, search: SearchService | None, enabled: bool
) -> SearchProvider:
    """The app's one search service: the injected one (or none), else built on first use."""
    if search is not None or not enabled:
        return FixedSearch(search)
    templates = app.state.templates
    warm = lambda: (_warm_pages(templates), _build_routes(app), freeze_startup_heap())  # noqa: E731
    return LazySearch(settings, app.state.engine, warm=warm)


def _discussion(
    settings: Settings, engine: Engine, limiter: RateLimiter, caches: Caches, mail: MailKicker
) -> Discussion:
    """Comments: rendered by the Markdown renderer, rate-limited, dropping what they change."""
    return Discussion(
        engine,
        render_comment,
        limiter,
        changed=lambda user_ids=(), paper_id=None: _comments_changed(caches, user_ids, paper_id),
        kick_mail=mail.kick,
        limits=CommentLimits(
            per_member=settings.comments_per_member,
            per_new_member=settings.comments_per_new_member,
            per_ip=settings.comments_per_address,
        ),
    )


def _add_middleware(app: FastAPI, settings: Settings, engine: Engine, caches: Caches) -> None:
    """The middleware stack, innermost first (each add wraps what is already there)."""
    https = settings.base_url.startswith("https://")
    app.add_middleware(SecurityHeadersMiddleware, hsts=https)
    # Inside the session middleware: it needs the session to know the reader.
    app.add_middleware(SharedPageMiddleware, cache=app.state.shared_pages)
    # Outside the shared pages: puts each reader's discussion thread into a paper page.
    app.add_middleware(ThreadSlotMiddleware)
    app.add_middleware(ServerSessionMiddleware, cache=caches.sessions)  # sign-out ends it
    app.add_middleware(
        SessionCookieMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="paperroute_session",
        max_age=30 * 24 * 3600,
        same_site="lax",
        https_only=https,
    )
    # A cached anonymous page is answered before sessions, routing and threads.
    app.add_middleware(PageCacheMiddleware, cache=app.state.page_cache, baked=caches.baked)
    # Outside the page cache: every HTML answer, cached or not, gets the live vote counts.
    app.add_middleware(VoteCountMiddleware, live=caches.votes, engine=engine)
    # Outside the page cache, so cached answers are counted too.
    app.add_middleware(RequestMetricsMiddleware, routes=app.router.routes)
    # Outermost: everything inside sees a HEAD as a GET, the page cache included.
    app.add_middleware(HeadAsGetMiddleware)


def _add_routes(app: FastAPI) -> None:
    """Static files, the operations routes, the pages (CSRF-protected) and the JSON API.

    The hot pages come before the API: no API path (all under /api/) can match a page route,
    so the order only decides how many routes a request is tried against. The API's anonymous
    GETs are mostly answered by the page cache, before routing."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(ops.router)

    def include_pages(routers: list) -> None:  # pages are not the API: /help/pages lists them
        for router in routers:
            app.include_router(
                router, dependencies=[Depends(csrf_protect)], include_in_schema=False
            )

    include_pages(HOT_ROUTERS)
    app.mount("/static-apidocs", StaticFiles(directory=api_console_assets()), name="apidocs")
    for router in API_ROUTERS:
        app.include_router(router)
    include_pages(ROUTERS[len(HOT_ROUTERS) :])
    for router in NO_CSRF_ROUTERS:
        app.include_router(router, include_in_schema=False)


def _named_routes(app: FastAPI) -> list[BaseRoute]:
    """Every route a link may name: the app's own (the OpenAPI document, the static mounts)
    and those of the routers it includes."""
    routers = [ops.router, *API_ROUTERS, *ROUTERS, *NO_CSRF_ROUTERS]
    return [*app.router.routes, *(route for router in routers for route in router.routes)]


def _tell_followers(settings: Settings, engine: Engine, caches: Caches, kick_mail):
    """What the web process does when papers are new to the store: notify the followers of
    their authors, drop those readers' unread counts, and send the mail that is due."""

    def on_added(ids: list[str]) -> None:
        notified = notify_followers_of_new_papers(engine, ids, settings.submission_max_age_days)
        if notified:
            for uid in set(notified):
                caches.data.pop(reader_key(uid))
            kick_mail()

    return on_added


def _comments_changed(caches: Caches, user_ids, paper_id: str | None = None) -> None:
    """Drop what shows comments (a new one: only that paper's thread of the rendered ones),
    and the notified readers' state (their unread count)."""
    caches.changed("comments", paper_id=paper_id)
    for uid in user_ids:
        caches.data.pop(reader_key(uid))


@asynccontextmanager
async def _lifespan(app: FastAPI):
    # Imports left queued by the last run go on; the running one is given back on the way out.
    await anyio.to_thread.run_sync(app.state.imports.resume)
    try:
        yield
    finally:
        app.state.imports.close()
        app.state.notify_mail.close()


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(request, 404, getattr(exc, "detail", "Not found"))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        parts = []
        for err in errors:
            where = ".".join(
                str(x) for x in err.get("loc", ()) if x not in {"query", "body", "path"}
            )
            parts.append(f"{where}: {err.get('msg')}")
        # A path that names no possible row (/collections/abc, an id past the column's range)
        # is a page that does not exist; a bad query or form field is invalid input.
        in_path = bool(errors) and all(err.get("loc", ("",))[0] == "path" for err in errors)
        return _error(request, 404 if in_path else 422, "; ".join(parts) or "invalid request")


_TITLES = {400: "Bad request", 401: "Sign in needed", 403: "Forbidden", 404: "Not found",
           422: "Invalid input", 429: "Too many requests"}  # fmt: skip


def _error(request: Request, status: int, detail: str, headers: dict | None = None) -> Response:
    wants_html = "text/html" in request.headers.get(
        "accept", ""
    ) and not request.url.path.startswith("/api/")
    if not wants_html:
        return JSONResponse({"error": detail}, status_code=status, headers=headers)
    response = render(
        request,
        "errors/error.html",
        status=status,
        code=status,
        title=_TITLES.get(status, "Error"),
        detail=detail,
    )
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def app_from_env() -> FastAPI:
    """uvicorn factory: settings from the environment (`paperroute serve` sets it up)."""
    from paperroute.config import load_settings
    from paperroute.logs import quiet_progress_bars

    settings = load_settings()
    quiet_progress_bars(settings)  # uvicorn's worker processes start afresh
    _one_torch_thread()
    app = create_app(settings, warm_search=True)
    _limit_threads(app, settings.web_threads or os.cpu_count() or 2)
    if settings.run_jobs_in_web:  # off when `paperroute worker` runs in its own process
        from paperroute.jobs.worker import attach_background_jobs

        attach_background_jobs(app)
    return app


def _limit_threads(app: FastAPI, threads: int) -> None:
    # Sync handlers run in anyio's thread pool (40 threads by default). Past one thread per
    # core they only contend for the GIL with each other and with the event loop, which then
    # answers cached pages late: measured on 2 cores, bench/web.py's cold paper sweep ran at
    # 1.3k requests/s (p95 88 ms) with 40 threads and 2.8k (p95 52 ms) with 2.
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI):
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, threads)
        async with inner(application) as state:
            yield state

    app.router.lifespan_context = lifespan


def _one_torch_thread() -> None:
    # Requests already run in parallel threads; torch's own intra-op threads on top of them
    # oversubscribe the cores: a query embedding took 1.7 s with 2 torch threads under load and
    # 50 ms with 1 (measured on the 2-core dev machine).
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but search is optional
        return
    torch.set_num_threads(1)
