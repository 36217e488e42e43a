"""Request hygiene before any route runs: HEAD answered wherever GET is, NUL refused in URLs.

HEAD: FastAPI routes answer only the methods they name, so HEAD on a page was a 405, which uptime
monitors read as "down". Starlette adds HEAD to its own routes only; FastAPI has no switch for it,
and naming HEAD on every route would also list it in the OpenAPI document. So the request goes on
as a GET and its body is dropped (the headers, Content-Length included, are the GET's, as RFC 9110
allows).

NUL: no stored text holds one (ingest strips them), and PostgreSQL refuses a NUL in any text it is
sent, so `/authors/%00` was a 500 there. Refused once here for every route and parameter.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    """Serve a HEAD request as the GET of the same URL, without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server keeps its own scope, which still says HEAD.
        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def refuse_nul(request: Request) -> None:
    """A 404 for a path with a NUL in it (no such page), a 422 naming a query parameter with one."""
    if "\x00" in request.scope["path"]:
        raise HTTPException(404, "path: contains a NUL character")
    for name, value in request.query_params.multi_items():
        if "\x00" in name:
            raise HTTPException(422, "query: a parameter name contains a NUL character")
        if "\x00" in value:
            raise HTTPException(422, f"{name}: contains a NUL character")
