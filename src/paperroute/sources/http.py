"""The one HTTP client every live source uses: polite, patient with busy servers, clear on failure.

- identifies itself with a User-Agent, applies the configured timeout;
- keeps a minimum delay between requests (arXiv asks API clients for 3 seconds);
- retries connection errors, timeouts, 502/503/504 and 429 with exponential backoff, honouring
  `Retry-After` (seconds or an HTTP date), with each wait capped; a host name that does not
  resolve (offline, no DNS, a mistyped setting) fails at once with a one-line reason;
- raises `SourceError` naming the source, URL and status for any other 4xx/5xx.

`sleep` and `clock` are injectable so tests exercise the waits without really waiting long.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from paperroute.sources.base import SourceError

USER_AGENT = "paperroute/0.1 (+self-hosted)"
RETRY_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HostPacer:
    """Per-host politeness shared by many clients: at least `interval` seconds between requests
    to one host, whichever client sends them (the worker gives one pacer to every source, so
    Crossref's sync and the enrichment job's Crossref look-ups share Crossref's delay)."""

    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        floor: float = 0.0,
    ) -> None:
        self.sleep = sleep
        self.clock = clock
        self.floor = floor  # the least gap for any host, whatever the client's own delay
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, url: str, interval: float) -> None:
        """Sleep until `interval` seconds have passed since the last request to url's host."""
        host = (urlsplit(url).hostname or "").lower()
        interval = max(interval, self.floor)
        with self._lock:
            now = self.clock()
            last = self._last.get(host)
            remaining = interval - (now - last) if last is not None else 0.0
            if remaining > 0:
                self.sleep(remaining)
                now = self.clock()
            self._last[host] = now


class HttpClient:
    """A small synchronous HTTP client with politeness delay, retries and clear errors."""

    def __init__(
        self,
        *,
        source: str = "http",
        timeout: float = 30.0,
        retries: int = 5,
        min_interval: float = 0.0,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.source = source
        self.retries = retries
        self.min_interval = min_interval
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self.requests = 0  # HTTP requests sent, retries included
        self._last_request: float | None = None
        self.pacer: HostPacer | None = None  # set by the worker: politeness per host
        self._client = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Any, *, source: str, **overrides: Any) -> HttpClient:
        """A client configured from Settings (timeout, retries); overrides win."""
        options = {"timeout": settings.http_timeout, "retries": settings.http_retries}
        options.update(overrides)
        return cls(source=source, **options)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET with retries; returns 2xx responses and those whose status is in `accept`."""
        return self.request("GET", url, params=params, accept=accept, headers=headers)

    def post(
        self,
        url: str,
        json: Any,
        *,
        params: Mapping[str, Any] | None = None,
        accept: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST a JSON body with the same retries (batch lookups, sign-in)."""
        return self.request("POST", url, params=params, json=json, accept=accept, headers=headers)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with politeness and retries; 2xx and `accept` statuses are returned."""
        attempt = 0
        while True:
            self._wait_politely()
            if self.pacer is not None:
                self.pacer.wait(url, self.min_interval)
            try:
                response = self._client.request(
                    method, url, params=params, json=json, headers=headers
                )
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                if _unresolved(exc):  # no answer will come within this run: say so now
                    host = urlsplit(url).hostname
                    raise SourceError(
                        f"{self.source}: cannot resolve {host}: offline, or no DNS for it "
                        "(not retried; the next scheduled run tries again)"
                    ) from exc
                if attempt >= self.retries:
                    raise SourceError(
                        f"{self.source}: {url} unreachable after {attempt + 1} attempts: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                self._sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            if response.status_code in RETRY_STATUSES and response.status_code not in accept:
                if attempt >= self.retries:
                    raise SourceError(
                        f"{self.source}: HTTP {response.status_code} from {response.url} "
                        f"after {attempt + 1} attempts: {_snippet(response)}"
                    )
                wait = parse_retry_after(response.headers.get("Retry-After"))
                self._sleep(wait if wait is not None else self.backoff * 2**attempt)
                attempt += 1
                continue
            if response.is_success or response.status_code in accept:
                return response
            raise SourceError(
                f"{self.source}: HTTP {response.status_code} from {response.url}: "
                f"{_snippet(response)}"
            )

    def _sleep(self, seconds: float) -> None:
        self.sleep(min(max(seconds, 0.0), self.max_wait))

    def _wait_politely(self) -> None:
        now = self.clock()
        if self._last_request is not None and self.min_interval > 0:
            remaining = self.min_interval - (now - self._last_request)
            if remaining > 0:
                self.sleep(remaining)
                now = self.clock()
        self._last_request = now
        self.requests += 1


def _unresolved(exc: BaseException) -> bool:
    """True when a transport error comes from a failed host name lookup."""
    seen: BaseException | None = exc
    for _ in range(8):  # httpx -> httpcore -> socket.gaierror; a bounded walk of the chain
        if seen is None:
            return False
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "") if text else "(empty body)"
