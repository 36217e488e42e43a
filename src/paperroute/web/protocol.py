"""Request hygiene before any route runs: HEAD answered wherever GET is, NUL refused in input.

HEAD: FastAPI routes answer only the methods they name, so HEAD on a page was a 405, which uptime
monitors read as "down". Starlette adds HEAD to its own routes only; FastAPI has no switch for it,
and naming HEAD on every route would also list it in the OpenAPI document. So the request goes on
as a GET and its body is dropped (the headers, Content-Length included, are the GET's, as RFC 9110
allows).

NUL: no stored text holds one (ingest strips them), PostgreSQL refuses a NUL in any text it is
sent (`/authors/%00` or a collection named "a\\x00" were 500s there), and the page personalisation
marks its slots with NULs. Refused once here, for every route, in URLs, forms and JSON bodies.
"""

from __future__ import annotations

import re

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


async def refuse_nul(request: Request) -> None:
    """A 404 for a path with a NUL in it (no such page); a 422 naming the query parameter, form
    field or JSON body that has one. File uploads may hold NULs (UTF-16 text) and are not read."""
    if "\x00" in request.scope["path"]:
        raise HTTPException(404, "path: contains a NUL character")
    _refuse_in_pairs(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached: the route reads the same parsed form
        _refuse_in_pairs([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    elif "json" in content_type and _JSON_NUL.search(await request.body()):
        raise HTTPException(422, "body: contains a NUL character")


# `\u0000` in a JSON text, unless its backslash is itself escaped (`\\u0000` is plain text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000|\x00")


def _refuse_in_pairs(pairs: list[tuple[str, str]]) -> None:
    for name, value in pairs:
        if "\x00" in name:
            raise HTTPException(422, "a parameter name contains a NUL character")
        if "\x00" in value:
            raise HTTPException(422, f"{name}: contains a NUL character")
