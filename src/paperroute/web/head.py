"""HEAD answered wherever GET is: uptime monitors and link checkers send HEAD.

FastAPI routes answer only the methods they name, so HEAD on a page was a 405, which monitors read
as "down". Starlette adds HEAD to its own routes only; FastAPI has no switch for it, and naming
HEAD on every route would also list it in the OpenAPI document. So the request goes on as a GET and
its body is dropped (the headers, Content-Length included, are the GET's, as RFC 9110 allows).
"""

from __future__ import annotations

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
