"""Anonymous page cache, in front of routing: a reader without a session gets stored bytes.

Anonymous responses hold nothing personal (no CSRF token, no votes), so every such reader gets
the same bytes for a URL; they are kept `ttl` seconds (papers synced by another process appear
within that time) and dropped at once after any local write (saves, admin changes). A page's
vote counts are filled in as it is served (web/livevotes.py), so a vote only re-orders pages. A
hit skips routing, dependencies and the thread pool, which is what keeps p95 low under load.

`Caches` holds every cache of a web process and is the one place that knows which of them a
change makes stale: write paths say what they changed (`caches.changed("paper")`), never which
caches to clear.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "paperroute_session"
_CACHEABLE_TYPES = (
    b"text/html",
    b"application/json",
    b"application/atom+xml",
    b"application/feed+json",
)


class TTLCache:
    """key -> value for `ttl` seconds, least recently used out first; thread-safe."""

    def __init__(self, ttl: float = 10.0, size: int = 4000) -> None:
        self.ttl = ttl
        self.size = size
        # key -> (expires, made, value, whether `stale_soon` makes it stale)
        self._items: OrderedDict[Any, tuple[float, float, Any, bool]] = OrderedDict()
        self._lock = threading.Lock()
        # Coalesced staleness (see `stale_soon`): entries made at or before `_cutoff` are stale.
        self._cutoff = float("-inf")
        self._latest_change = float("-inf")
        self._due: float | None = None

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def pop(self, key: Any) -> None:
        """Forget one entry."""
        with self._lock:
            self._items.pop(key, None)

    def drop(self, stale: Callable[[Any], bool]) -> None:
        """Forget the entries whose key is `stale`."""
        with self._lock:
            for key in [k for k in self._items if stale(k)]:
                del self._items[key]

    def stale_soon(self, within: float) -> None:
        """Everything held now goes stale `within` seconds from the first such call of a burst
        (but entries put with `votes_matter=False`).

        For changes that come many times a second and only change numbers (votes): clearing on
        each would re-render every page for every vote (bench/load.py: 40 votes/s kept the
        anonymous cache empty), while this re-renders each page at most once per `within`.
        """
        now = time.monotonic()
        with self._lock:
            self._latest_change = now
            if self._due is None:
                self._due = now + within

    def get(self, key: Any) -> Any | None:
        """The value of a fresh entry, or None."""
        now = time.monotonic()
        with self._lock:
            if self._due is not None and now >= self._due:
                self._cutoff, self._due = self._latest_change, None
            hit = self._items.get(key)
            if hit is None or hit[0] <= now or (hit[3] and hit[1] <= self._cutoff):
                return None
            self._items.move_to_end(key)
            return hit[2]

    def remember(self, key: Any, compute: Any, ttl: float | None = None) -> Any:
        """The fresh value for `key`, computing and storing it when missing (None is not kept);
        `ttl` keeps this entry longer (or shorter) than the cache's own."""
        value = self.get(key)
        if value is None and self.ttl > 0:
            value = compute()
            if value is not None:
                self.put(key, value, ttl)
        return compute() if value is None else value

    def update(self, key: Any, change: Any) -> bool:
        """Replace a held entry's value by `change(value)`, keeping when it expires; False
        when there is none."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] <= time.monotonic():
                return False
            self._items[key] = (hit[0], hit[1], change(hit[2]), hit[3])
            return True

    def put(
        self, key: Any, value: Any, ttl: float | None = None, votes_matter: bool = True
    ) -> None:
        """Store a value for `ttl` seconds (by default the cache's); `votes_matter=False`: one
        that `stale_soon` leaves alone (a page that votes do not re-order, whose counts are
        filled in as it is served)."""
        with self._lock:
            now = time.monotonic()
            expires = now + (self.ttl if ttl is None else ttl)
            self._items[key] = (expires, now, value, votes_matter)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


PageCache = TTLCache  # URL key -> (response headers, body)
VOTES_SHOW_WITHIN_S = 1.0  # how soon other readers see a vote count change (at most)
# How soon a vote re-orders a cached page (most upvoted first, trending). The counts on pages
# are filled in as they are served (web/livevotes.py), so only the order waits for this, and a
# page that votes do not order (a paper's page, search by relevance: `render(ranked=False)`)
# stays until its TTL.
VOTES_REORDER_WITHIN_S = 5.0
UNRANKED_HEADER = b"x-paperroute-unranked"  # set by render(ranked=False); never sent

# What a write changed: a paper's text or flags (hidden, featured) or a new paper; votes; a
# collection (created, filled, emptied, made public or private, deleted); a user's name or role;
# only the reader's own state (a "not interested" mark: no shared page shows it); a comment
# posted, edited, hidden or voted on, or a reader's notifications read.
Change = Literal["paper", "votes", "collection", "user", "reader", "comments"]


FOR_YOU_KEY = "for-you"  # data cache: (FOR_YOU_KEY, user id, window, tag) -> the ranking


def _for_you_of(key: Any, user_id: int) -> bool:
    return isinstance(key, tuple) and len(key) > 1 and key[:2] == (FOR_YOU_KEY, user_id)


def reader_key(user_id: int) -> tuple[str, int]:
    """Where the data cache keeps a reader's personal state (web/personal.reader_of)."""
    return ("reader", user_id)


class Caches:
    """Every cache of a web process, and which of them each kind of change makes stale.

    `votes` (web/livevotes.LiveVotes) holds the vote counts filled into pages as they are
    served; HTML pages (`pages`, `shared_pages`, `cards`) hold slots for them, so a vote only
    re-orders those (within VOTES_REORDER_WITHIN_S), while answers with the numbers written in
    (`baked`: JSON, feeds) and the listing data follow within VOTES_SHOW_WITHIN_S.
    """

    def __init__(self, ttl: float, cards: TTLCache, votes: Any, voted_by: Any = None) -> None:
        self.pages = PageCache(ttl=ttl)  # anonymous HTML responses, by URL (vote slots)
        self.baked = PageCache(ttl=ttl)  # other anonymous responses: JSON, feeds
        self.data = TTLCache(ttl=ttl, size=2000)  # listing data, users and readers' state
        self.shared_pages = TTLCache(ttl=ttl, size=4000)  # signed-in pages with markers
        self.similar = TTLCache(ttl=600, size=20000)  # similar papers rarely change
        self.sessions = TTLCache(ttl=ttl, size=20000)  # live session id -> user id
        self.cards = cards  # keyed by what a card shows but its vote counts (slots)
        self.votes = votes
        self.voted_by = voted_by  # user id -> the papers they upvoted (read from the store)
        pages = (self.pages, self.baked, self.data, self.shared_pages)
        self._stale: dict[str, tuple[TTLCache, ...]] = {
            "paper": (*pages, self.cards, self.similar),
            "votes": pages,
            "collection": pages,
            "user": pages,
            "reader": (self.data,),  # a reader's digest preview is kept there
            "comments": pages,
        }

    def changed(
        self, what: Change, user_id: int | None = None, paper_id: str | None = None
    ) -> None:
        """Drop every cache that a local write of this kind makes stale (another process's
        writes show within the caches' TTL). A vote (on `paper_id`; None: unknown) shows on
        every page at once, and the voter's own upvotes (`user_id`) are read again at once."""
        if what == "votes":
            if user_id is not None:
                self._voted(user_id)
                self.data.drop(lambda key: _for_you_of(key, user_id))  # an upvote is a signal
            self.votes.forget(paper_id)
            for cache in self._stale[what]:
                slots = cache is self.pages or cache is self.shared_pages
                cache.stale_soon(VOTES_REORDER_WITHIN_S if slots else VOTES_SHOW_WITHIN_S)
            return
        if user_id is not None:
            self.data.pop(reader_key(user_id))
        if what in ("paper", "user"):  # an edit, merge or deleted account changes counts
            self.votes.forget()
        if what == "comments" and paper_id is not None:
            self._comment_posted(paper_id)
            return
        for cache in self._stale[what]:
            cache.clear()

    def _comment_posted(self, paper_id: str) -> None:
        """A new comment on one paper: the pages and listing data go (they show its count),
        but the data cache keeps members, readers' state and every other paper's rendered
        thread: clearing them all made the next request of every reader, and the next post,
        load them again (a 200-comment thread is ~10 ms to render)."""
        for cache in (self.pages, self.baked, self.shared_pages):
            cache.clear()
        kept = ("user", "reader", "thread-html", "thread-votes")  # a post changes no votes

        def stale(key: Any) -> bool:
            if not isinstance(key, tuple) or not key or key[0] not in kept:
                return True
            return key[0] == "thread-html" and key[1] == paper_id

        self.data.drop(stale)

    def _voted(self, user_id: int) -> None:
        """The voter's own upvotes read again (one query), the rest of their state kept until
        it expires: a reload of all of it (five queries) on every vote took 1.5 ms of CPU."""
        key = reader_key(user_id)
        if self.voted_by is None or self.data.get(key) is None:
            self.data.pop(key)
            return
        voted = frozenset(self.voted_by(user_id))
        if not self.data.update(key, lambda reader: dataclasses.replace(reader, voted=voted)):
            self.data.pop(key)

    def session_ended(self, session_id: str | None = None) -> None:
        """Forget a session at once (sign-out), or every session (a revocation)."""
        if session_id is None:
            self.sessions.clear()
        else:
            self.sessions.pop(session_id)


def _anonymous_get(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and SESSION_COOKIE.encode() in value):
            return False
    return True


class PageCacheMiddleware:
    """Serves and fills the PageCache for anonymous GET requests: HTML pages in `cache` (their
    vote numbers are slots, filled as served), other answers in `baked`."""

    def __init__(self, app: ASGIApp, cache: PageCache, baked: PageCache) -> None:
        self.app = app
        self.cache = cache
        self.baked = baked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cache.ttl <= 0 or not _anonymous_get(scope) or scope["path"].startswith("/static"):
            await self.app(scope, receive, send)
            return
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        key = b"%s?%s|%s" % (
            scope["path"].encode(),
            scope["query_string"],
            b"html" if b"html" in accept else b"",
        )
        hit = self.cache.get(key) or self.baked.get(key)
        if hit is not None:
            headers, body = hit
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._store(key, start, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)

    def _store(self, key: bytes, start: dict, body: bytes) -> None:
        headers = list(start.get("headers", []))
        if start.get("status") != 200 or any(k == b"set-cookie" for k, _ in headers):
            return
        content_type = next((v for k, v in headers if k == b"content-type"), b"")
        if content_type.startswith(b"text/html"):
            ranked = not any(k == UNRANKED_HEADER for k, _ in headers)
            headers = [(k, v) for k, v in headers if k != UNRANKED_HEADER]
            self.cache.put(key, (headers, body), votes_matter=ranked)
        elif content_type.startswith(_CACHEABLE_TYPES):
            self.baked.put(key, (headers, body))
