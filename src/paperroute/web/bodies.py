"""Rewriting a whole response body on its way out, for the middlewares that fill slots in pages
(shared pages, live vote counts, discussion threads).

Starlette's `BaseHTTPMiddleware` would do it too, but it runs the app in a task group per request
and costs more than these pages take to serve (bench/load.py); these few lines keep the plain
ASGI path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Message, Send


def buffered(
    send: Send,
    wants: Callable[[Message], bool],
    finish: Callable[[Message, bytes], Awaitable[None]],
) -> Send:
    """A `send` that passes every response through, except one whose start message `wants`
    selects: its body is joined and handed, with that start message, to `finish`."""
    start: dict = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            if wants(message):
                start.update(message)
                return
            await send(message)
        elif start and message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                await finish(start, b"".join(chunks))
        else:
            await send(message)

    return capture


async def send_whole(send: Send, start: Message, body: bytes, drop: tuple[bytes, ...] = ()) -> None:
    """Send `start` and one `body`, with its content-length and without the `drop` headers."""
    headers = [
        (k, v) for k, v in start.get("headers", []) if k != b"content-length" and k not in drop
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})
