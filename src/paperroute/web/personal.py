"""Shared pages for signed-in readers: rendered once per URL, personalised on each request.

A signed-in reader's daily, trending, paper and search pages differ from every other signed-in
reader's in a few places only: the CSRF token, the name in the header, which papers they have
upvoted, their collections (the Save menus) and their "not interested" marks. A route that
opts in (`render(..., shared=True)`) is rendered once per URL and role with markers in those
places; each request then fills the markers in for its reader, which costs a small fraction of
a render (measured: bench/web.py, docs/benchmarks.md). Shared renderings live as long as the
anonymous page cache and are dropped with it after any local write; a reader's votes and
collections are kept a few seconds like other shared data and dropped the same way.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from html import unescape
from typing import Any

from markupsafe import Markup, escape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperroute.store.collections import collection_memberships
from paperroute.store.notifications import unread_count
from paperroute.store.readers import not_interested_by_user
from paperroute.store.users import User, get_user
from paperroute.store.votes import user_voted_ids
from paperroute.web.bodies import buffered
from paperroute.web.cache import UNRANKED_HEADER, TTLCache, reader_key
from paperroute.web.lookups import quick

# The markers carry a secret made once per process and never sent to anyone, so no stored
# text can spell one (ingest also strips NUL from every field: store/merge.scrub_record). A
# constant marker let a paper's URL or author name pull a reader's CSRF token, email or name
# into a link to another site. Fixed per process, because shared pages outlive a request.
_SECRET = secrets.token_hex(16)
CSRF_MARK = f"\x00{_SECRET}:csrf\x00"
LABEL_MARK = f"\x00{_SECRET}:label\x00"
UNREAD_MARK = f"\x00{_SECRET}:unread\x00"  # the header's unread-notifications badge
_SAVE_PREFIX = f"\x00{_SECRET}:save:"
SAVE_MARK = _SAVE_PREFIX + "%s\x00"  # % the paper id (escaped)
_SAVE_SLOT = re.compile(re.escape(_SAVE_PREFIX) + "([^\x00]*)\x00")
_NI_PREFIX = f"\x00{_SECRET}:not-interested:"
NOT_INTERESTED_MARK = _NI_PREFIX + "%s\x00"  # % the paper id (escaped)
_NI_SLOT = re.compile(re.escape(_NI_PREFIX) + "([^\x00]*)\x00")
_ANY_SLOT = re.compile(f"{_SAVE_SLOT.pattern}|{_NI_SLOT.pattern}")
_ID_SLOT = f"\x00{_SECRET}:paper-id\x00"  # where a rendered Save slot takes its paper id
# A paper's vote numbers, filled in as each page is served (web/livevotes.py): "total", "local",
# "hf", or "s" (the plural ending of "upvote"). `% (part, paper id (escaped))`.
VOTES_PREFIX = f"\x00{_SECRET}:votes:"
VOTES_MARK = VOTES_PREFIX + "%s:%s\x00"
DEMO_DISMISSED = "demo_dismissed"  # session key: this reader closed the demo banner
SHARED_SCOPE_KEY = "paperroute.shared"  # set on a request whose page may be shared
SHARED_HEADER = b"x-paperroute-shared"  # set by render() on a page rendered with markers
_VOTE_BUTTON = re.compile(r'class="upvote" aria-pressed="false" data-vote="([^"]*)"')


@dataclass(frozen=True)
class Reader:
    """What personalises a shared page: the user, their upvotes, collections and "not
    interested" marks."""

    user: User
    voted: frozenset[str]
    collections: list[tuple[int, str, frozenset[str]]]
    negatives: frozenset[str] = frozenset()
    unread: int = 0  # unread notifications

    def holds(self, paper_id: str) -> bool:
        """Whether the paper is in any of the reader's collections."""
        return any(paper_id in items for _, _, items in self.collections)


def unread_badge(count: int) -> Markup:
    """The header's unread count next to "Notifications" (nothing when there is none)."""
    if not count:
        return Markup("")
    return Markup(' <span class="unread-count" aria-label="%d unread">%d</span>') % (count, count)


def save_marker(paper_id: str) -> Markup:
    """The slot where a reader's "Save" buttons for a paper go (filled by fill_save_slots)."""
    return Markup(SAVE_MARK) % paper_id


@lru_cache(maxsize=65536)  # a paper page has six, and a card three (each an escape of the id)
def vote_marker(paper_id: str, part: str = "total") -> Markup:
    """The slot where one of a paper's vote numbers goes (filled by web/livevotes.py)."""
    return Markup(VOTES_MARK) % (part, paper_id)


def not_interested_marker(paper_id: str) -> Markup:
    """The slot where a card's "Not interested" control goes (filled by fill_save_slots)."""
    return Markup(NOT_INTERESTED_MARK) % paper_id


def fill_save_slots(html: str, state: Any, reader: Reader, csrf: str) -> str:
    """Put this reader's "Save" buttons and "Not interested" controls into a page's slots."""
    return _fill_slots(split_slots(html), state, reader, csrf)


def split_slots(html: str) -> list[str]:
    """The page cut at its Save and Not-interested slots: text, save id, not-interested id,
    text, ... (one of each pair of ids is None; ids escaped as in the page)."""
    if _SAVE_PREFIX not in html and _NI_PREFIX not in html:
        return [html]
    return _ANY_SLOT.split(html)


def _fill_slots(pieces: list[str | None], state: Any, reader: Reader, csrf: str) -> str:
    if len(pieces) == 1:
        return pieces[0]
    # A list page has a slot per card, and most cards differ only in their paper id: render
    # once per distinct set of ticked collections and put the id in (measured on the demo's
    # trending page, 50 cards: 2.4 ms a request for a render per card).
    saves: dict[tuple, str] = {}
    forms = None
    out = pieces[:]
    for i in range(1, len(pieces), 3):
        saved, dismissed = pieces[i], pieces[i + 1]
        if saved is not None:
            paper_id = unescape(saved)
            holds = tuple(paper_id in items for _, _, items in reader.collections)
            if holds not in saves:
                saves[holds] = _save_slot(state, reader, csrf, _ID_SLOT, holds)
            out[i] = saves[holds].replace(_ID_SLOT, str(escape(paper_id)))
        else:
            # "Not interested" on each card, "Undo" where it is marked, nothing on a paper the
            # reader saved (saving and dismissing a paper contradict each other).
            paper_id = unescape(dismissed)
            if forms is None:
                forms = {
                    k: v.replace(CSRF_MARK, csrf) for k, v in _not_interested_forms(state.templates)
                }
            form = "" if reader.holds(paper_id) else forms[paper_id in reader.negatives]
            out[i] = form.replace(_ID_SLOT, str(escape(paper_id)))
        out[i + 1] = ""
    return "".join(out)


def reader_of(state: Any, user_id: int) -> Reader | None:
    """The reader's state, shared a few seconds like other data (blocking: call off the loop)."""
    key = reader_key(user_id)
    reader = state.data_cache.get(key)
    if reader is None:
        reader = load_reader(state.engine, user_id)
        if reader is not None:  # others' votes leave it be; the reader's own update it
            state.data_cache.put(key, reader, votes_matter=False)
    return reader


def load_reader(engine: Any, user_id: int) -> Reader | None:
    """The reader's personal state from the store (None when the account is gone)."""
    user = get_user(engine, user_id)
    if user is None:
        return None
    negatives = frozenset(not_interested_by_user(engine, [user_id]).get(user_id, ()))
    return Reader(
        user,
        user_voted_ids(engine, user_id),
        collection_memberships(engine, user_id),
        negatives,
        unread_count(engine, user_id),
    )


@dataclass(frozen=True)
class SkeletonUser:
    """Stands in for the signed-in user while a shared page is rendered."""

    is_admin: bool
    label: str = LABEL_MARK


@dataclass(frozen=True)
class SharedPage:
    """A page rendered with markers, and where its vote buttons are."""

    headers: list[tuple[bytes, bytes]]
    pieces: list[str | None]  # the page cut at its slots (split_slots), once for every reader
    vote_ids: dict[str, str]  # paper id -> its escaped form in the HTML

    @classmethod
    def from_html(cls, headers: list[tuple[bytes, bytes]], html: str) -> SharedPage:
        """Index the vote buttons and slots of a marked-up page."""
        found = {unescape(m): m for m in _VOTE_BUTTON.findall(html)}
        kept = [(k, v) for k, v in headers if k not in (b"content-length", SHARED_HEADER)]
        # Kept on the stored page (the vote-count middleware drops it on the way out).
        return cls(kept, split_slots(html), found)

    def personalise(self, reader: Reader, csrf: str, state: Any) -> bytes:
        """The page as this reader sees it."""
        # The slots first: their fillings carry no marker, and the page's markers are then
        # replaced in one pass over the whole page each.
        html = _fill_slots(self.pieces, state, reader, csrf)
        html = html.replace(CSRF_MARK, csrf).replace(LABEL_MARK, escape(reader.user.label))
        html = html.replace(UNREAD_MARK, unread_badge(reader.unread))
        for paper_id in reader.voted.intersection(self.vote_ids):
            mark = self.vote_ids[paper_id]
            html = html.replace(
                f'class="upvote" aria-pressed="false" data-vote="{mark}"',
                f'class="upvote on" aria-pressed="true" data-vote="{mark}"',
            )
        return html.encode()


class SharedPageMiddleware:
    """Serves signed-in GETs of shareable pages from one marked-up rendering per URL and role.

    Sits inside the session middleware (it needs the session) and outside routing. Requests
    it cannot personalise (no session or CSRF token yet, API tokens, other methods) and pages
    that do not opt in pass through untouched.
    """

    def __init__(self, app: ASGIApp, cache: TTLCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session") if scope["type"] == "http" else None
        if (
            not session
            or self.cache.ttl <= 0
            or scope["method"] != "GET"
            or not session.get("uid")
            or not session.get("csrf")
            or scope["path"].startswith(("/static", "/api/"))
            or any(k == b"authorization" for k, _ in scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        reader = await _reader(state, session["uid"])
        if reader is None:
            await self.app(scope, receive, send)
            return
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        key = (
            scope["path"],
            scope["query_string"],
            b"html" in accept,
            reader.user.is_admin,
            bool(session.get(DEMO_DISMISSED)),  # the demo banner (web/deps.demo_banner)
        )
        page = self.cache.get(key)
        if page is not None:
            await self._send(page, reader, session["csrf"], state, send)
            return
        await self._render(key, reader, scope, receive, send)

    async def _render(self, key, reader: Reader, scope: Scope, receive: Receive, send: Send):
        """Run the route with markers asked for; share the page if the route agreed."""
        scope[SHARED_SCOPE_KEY] = True

        def wants(start: Message) -> bool:
            headers = start.get("headers", [])
            return start.get("status") == 200 and any(k == SHARED_HEADER for k, _ in headers)

        async def finish(start: Message, body: bytes) -> None:
            page = SharedPage.from_html(list(start["headers"]), body.decode())
            ranked = not any(k == UNRANKED_HEADER for k, _ in page.headers)
            self.cache.put(key, page, votes_matter=ranked)
            csrf = scope["session"]["csrf"]
            await self._send(page, reader, csrf, scope["app"].state, send)

        capture = buffered(send, wants, finish)
        await self.app(scope, receive, capture)

    @staticmethod
    async def _send(page: SharedPage, reader: Reader, csrf: str, state: Any, send: Send) -> None:
        body = page.personalise(reader, csrf, state)
        headers = [*page.headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _reader(state: Any, user_id: int) -> Reader | None:
    """The reader's state, shared a few seconds; loaded when missing (web/lookups.quick)."""
    reader = state.data_cache.get(("reader", user_id))
    return reader or await quick(state.engine, reader_of, state, user_id)


def _save_slot(state: Any, reader: Reader, csrf: str, paper_id: str, holds: tuple) -> str:
    """A paper's "Save" buttons for this reader's collections (paper page and cards)."""
    choices = tuple(
        (cid, name, on) for (cid, name, _), on in zip(reader.collections, holds, strict=True)
    )
    return _save_forms(state.templates, paper_id, choices).replace(CSRF_MARK, csrf)


# Slot fillings rendered once with the CSRF marker and reused with each session's token put in:
# every signed-in page has them, a list page one per card (a render each took ~0.1 ms).
@lru_cache(maxsize=4096)
def _save_forms(env: Any, paper_id: str, choices: tuple) -> str:
    template = env.get_template("papers/_save.html")
    return template.render(paper_id=paper_id, choices=choices, csrf_token=lambda: CSRF_MARK)


@lru_cache(maxsize=16)
def _not_interested_forms(env: Any) -> tuple[tuple[bool, str], ...]:
    template = env.get_template("papers/_not_interested.html")
    return tuple(
        (marked, template.render(paper_id=_ID_SLOT, marked=marked, csrf_token=lambda: CSRF_MARK))
        for marked in (False, True)
    )
