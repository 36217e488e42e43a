"""What a self-hoster's tooling asks the server: /healthz, /readyz, /metrics, and the middleware
that counts every request by route template for /metrics.

/healthz says only that the process answers. /readyz says whether it can serve: the database
answers, its schema is the one this code needs, and the search indexes are open (503 with a JSON
reason otherwise, so a load balancer keeps traffic away during start-up and migrations).
/metrics is off unless the `metrics_token` setting is set, and then needs that bearer token.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperroute.metrics import INDEX_SIZE, LATENCY, REQUESTS, exposition
from paperroute.store.engine import StaleSchemaError, check_schema
from paperroute.store.papers import count_papers

router = APIRouter(include_in_schema=False)


class ProbeResponse(JSONResponse):
    """A probe's answer, never from a cache: a stale "ready" would keep traffic on a node
    whose database is gone. The health-check media type (draft-inadarei-api-health-check)
    also keeps it out of the page cache, which stores only HTML and application/json."""

    media_type = "application/health+json"

    def __init__(self, content: Any, status_code: int = 200) -> None:
        super().__init__(content, status_code, headers={"Cache-Control": "no-store"})


@router.get("/healthz", name="ops.healthz")
async def healthz() -> ProbeResponse:
    """The process is up (no I/O: a liveness probe must not fail because the database did)."""
    return ProbeResponse({"status": "ok"})


@router.get("/readyz", name="ops.readyz")
def readyz(request: Request) -> ProbeResponse:
    """Ready to serve: database reachable, schema current, search indexes open."""
    state = request.app.state
    try:
        check_schema(state.engine)
    except StaleSchemaError as exc:
        return _not_ready(f"schema: {exc}")
    except Exception as exc:  # any driver error means the same to a probe: not reachable
        return _not_ready(f"database: unreachable ({type(exc).__name__}: {exc})".split("\n")[0])
    state.search_if_ready()  # starts opening the indexes if nothing asked for them yet
    search = state.search_status()
    if search not in {"ready", "disabled"}:
        return _not_ready(f"search indexes: {search}")
    return ProbeResponse({"ready": True, "database": "ok", "schema": "current", "search": search})


def _not_ready(reason: str) -> ProbeResponse:
    return ProbeResponse({"ready": False, "reason": reason}, status_code=503)


@router.get("/metrics", name="ops.metrics")
def metrics(request: Request) -> Response:
    """Prometheus metrics; 404 unless `metrics_token` is set, 401 without that bearer token."""
    token = request.app.state.settings.metrics_token
    if token is None or not token.get_secret_value():
        raise HTTPException(404, "metrics are off: set the metrics_token setting")
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            401, "metrics: a bearer token is needed", {"WWW-Authenticate": "Bearer"}
        )
    _measure_indexes(request.app.state)
    body, content_type = exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


def _measure_indexes(state: Any) -> None:
    INDEX_SIZE.labels("papers").set(count_papers(state.engine))
    search = state.search_if_ready()
    if search is not None:
        INDEX_SIZE.labels("lexical").set(search.indexes.lexical.num_docs())
        INDEX_SIZE.labels("vectors").set(len(search.indexes.vectors))


class RequestMetricsMiddleware:
    """Counts requests and their latency by route template (`/papers/{paper_id}`), never by raw
    path, so the number of series stays bounded whatever URLs clients send.

    Pure ASGI (not BaseHTTPMiddleware): it sits outermost, around cached pages too, and must not
    add a task hand-off to every request.
    """

    def __init__(self, app: ASGIApp, routes: list) -> None:
        self.app, self.routes = app, routes
        self._known: dict[tuple[str, str], str] = {}  # (method, path) -> its route template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = self._template(scope)
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        found = scope.get("route")
        if found is not None:
            return getattr(found, "path", "<unmatched>")
        # Answered before routing (the page cache, shared pages): the template the router would
        # pick, remembered per path (a scan of every route was ~0.3 ms, most of a cached page).
        key = (scope["method"], scope["path"])
        known = self._known.get(key)
        if known is None:
            known = next(
                (
                    getattr(route, "path", "<unmatched>")
                    for route in self.routes
                    if route.matches(scope)[0] == Match.FULL
                ),
                "<unmatched>",
            )
            if len(self._known) >= 10000:  # any URL can be asked: stay bounded
                self._known.clear()
            self._known[key] = known
        return known
