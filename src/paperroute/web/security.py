"""Security built into every response and form: headers (strict CSP), server-side sessions,
CSRF tokens, rate limits."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

import itsdangerous
from fastapi import HTTPException, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperroute.store.auth import session_user_id
from paperroute.web.cache import TTLCache
from paperroute.web.lookups import quick

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_ID = "sid"  # the session cookie's key for the server-side session id


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers = list(_HEADERS)
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RememberingSigner(itsdangerous.TimestampSigner):
    """A timestamp signer that remembers the cookies it has verified, with when they were signed.

    A browser sends the same session cookie on every request, and checking it again each time
    cost ~10 us of CPU (under 1 us remembered). A remembered cookie is still refused once it is
    older than `max_age` (or dated in the future), as on first sight; a cookie that was never
    verified (forged, tampered, signed with another key) is checked in full. Bounded: forgets
    everything past `size` cookies. (The cookie is sent again only when the session changes,
    so it is not rolling: it lives 30 days from sign-in, as its server-side row does.)
    """

    def __init__(self, secret_key: str, size: int = 20000) -> None:
        super().__init__(secret_key)
        self.size = size
        self._verified: dict[bytes, tuple[bytes, int]] = {}  # cookie -> (payload, signed at)

    def unsign(self, signed_value, max_age=None, return_timestamp=False):
        """`TimestampSigner.unsign`, answered from memory for a cookie verified before."""
        key = itsdangerous.want_bytes(signed_value)
        hit = self._verified.get(key)
        if hit is not None and not return_timestamp:
            payload, signed_at = hit
            if max_age is None or 0 <= self.get_timestamp() - signed_at <= max_age:
                return payload
        payload, signed = super().unsign(key, max_age=max_age, return_timestamp=True)
        if len(self._verified) >= self.size:
            self._verified.clear()
        self._verified[key] = (payload, int(signed.timestamp()))
        return (payload, signed) if return_timestamp else payload


class SessionCookieMiddleware(SessionMiddleware):
    """Starlette's signed-cookie sessions (same cookie, same checks), with a `RememberingSigner`."""

    def __init__(self, app: ASGIApp, secret_key: str, **options) -> None:
        super().__init__(app, secret_key, **options)
        self.signer = RememberingSigner(str(secret_key))


class ServerSessionMiddleware:
    """Signs out a cookie whose server-side session is gone (sign-out, admin revocation, expiry).

    The signed cookie alone would stay valid for its 30 days, so it also carries a random
    session id, and the `sessions` table must still hold that id's hash. Sits just inside the
    session middleware, so every later layer (shared pages, routes) sees only live sessions.
    A live id is remembered `cache.ttl` seconds: this process forgets it at once on sign-out or
    revocation (Caches.session_ended); other web processes within that TTL.
    """

    def __init__(self, app: ASGIApp, cache: TTLCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session") if scope["type"] == "http" else None
        if session and "uid" in session:
            sid = session.get(SESSION_ID)
            if not isinstance(sid, str) or await self._user_id(scope, sid) != session["uid"]:
                session.clear()  # the response then drops the cookie's contents
        await self.app(scope, receive, send)

    async def _user_id(self, scope: Scope, sid: str) -> int | None:
        user_id = self.cache.get(sid)
        if user_id is None:
            engine = scope["app"].state.engine
            user_id = await quick(engine, session_user_id, engine, sid)
            if user_id is not None:
                self.cache.put(sid, user_id)
        return user_id


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use); forms put it in a hidden field."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


async def csrf_protect(request: Request) -> None:
    """Dependency: refuse a state-changing request whose form field/header lacks the token.

    The token is double-submitted: it lives in the signed session cookie and must come back in
    the `csrf_token` form field or the `X-CSRF-Token` header; a cross-site form cannot read it.
    """
    if request.method not in UNSAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")


class RateLimiter:
    """Sliding-window limits per key, in process memory (one web process owns its counters)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, per_seconds: float) -> bool:
        """Record a hit for `key`; False when it exceeds `limit` hits in `per_seconds`."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - per_seconds:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle keys so memory stays bounded
                idle = [k for k, h in self._hits.items() if h[-1] <= now - 3600]
                for k in idle:
                    del self._hits[k]
            return True

    def check(self, key: str, limit: int, per_seconds: float) -> None:
        """Raise HTTP 429 when the key is over its limit."""
        if not self.allow(key, limit, per_seconds):
            raise HTTPException(
                429, "Too many requests: wait a minute and try again", {"Retry-After": "60"}
            )
