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
_NOT_VOTED = 'class="upvote" aria-pressed="false" data-vote="%s"'  # % the paper id (escaped)
_VOTED = 'class="upvote on" aria-pressed="true" data-vote="%s"'


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
    fill = _Fillings(state, reader, csrf)
    out = pieces[:]
    for i in range(1, len(pieces), 3):
        saved, dismissed = pieces[i], pieces[i + 1]
        out[i] = fill.save(saved) if saved is not None else fill.not_interested(dismissed)
        out[i + 1] = ""
    return "".join(out)


class _Fillings:
    """One request's fillings of Save and Not-interested slots (ids escaped as in the page).

    A list page has a slot per card, and most cards differ only in their paper id: the Save
    buttons are rendered once per distinct set of ticked collections and the id put in
    (measured on the demo's trending page, 50 cards: 2.4 ms a request for a render per card).
    """

    def __init__(self, state: Any, reader: Reader, csrf: str) -> None:
        self.state, self.reader, self.csrf = state, reader, csrf
        self.saves: dict[tuple, str] = {}
        self.forms: dict[bool, str] | None = None

    def save(self, escaped_id: str) -> str:
        """The reader's Save buttons for a paper."""
        paper_id = unescape(escaped_id)
        holds = tuple(paper_id in items for _, _, items in self.reader.collections)
        if holds not in self.saves:
            self.saves[holds] = _save_slot(self.state, self.reader, self.csrf, _ID_SLOT, holds)
        return self.saves[holds].replace(_ID_SLOT, str(escape(paper_id)))

    def not_interested(self, escaped_id: str) -> str:
        """ "Not interested" on each card, "Undo" where it is marked, nothing on a paper the
        reader saved (saving and dismissing a paper contradict each other)."""
        paper_id = unescape(escaped_id)
        if self.forms is None:
            forms = _not_interested_forms(self.state.templates)
            self.forms = {k: v.replace(CSRF_MARK, self.csrf) for k, v in forms}
        form = "" if self.reader.holds(paper_id) else self.forms[paper_id in self.reader.negatives]
        return form.replace(_ID_SLOT, str(escape(paper_id)))


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


# Where a shared page's markers start (each then names its kind, and a Save or Not-interested
# slot its paper id: "save:<id>\x00"), and where a vote button's paper id does. Cut with
# str.split: a regular expression over the ~15 KB page took four times as long.
_MARK_START = f"\x00{_SECRET}:"
_VOTE_START = _NOT_VOTED.split("%s")[0]
_READER_KINDS = frozenset(("csrf", "label", "unread", "save", "not-interested"))


@dataclass(frozen=True)
class SharedPage:
    """A page rendered with markers, cut once at every place a reader's page differs."""

    headers: list[tuple[bytes, bytes]]
    pieces: list[str]  # the page's text, with each slot's piece as it stands in the page
    slots: list[tuple[int, str, str]]  # (index in pieces, kind, escaped paper id or "")

    @classmethod
    def from_html(cls, headers: list[tuple[bytes, bytes]], html: str) -> SharedPage:
        """Cut a marked-up page at its markers and vote buttons."""
        pieces: list[str] = []
        slots: list[tuple[int, str, str]] = []

        def text(part: str) -> None:  # the page's own text, cut at its vote buttons
            cut = part.split(_VOTE_START)
            pieces.append(cut[0])
            for rest in cut[1:]:
                escaped_id, _, after = rest.partition('"')
                slots.append((len(pieces), "vote", escaped_id))
                pieces.extend((_NOT_VOTED % escaped_id, after))

        cut = html.split(_MARK_START)
        text(cut[0])
        for rest in cut[1:]:
            marker, _, after = rest.partition("\x00")
            kind, _, escaped_id = marker.partition(":")
            if kind not in _READER_KINDS:  # a live vote count (web/livevotes.py) stays as it is
                pieces.append(_MARK_START)
                text(rest)
                continue
            slots.append((len(pieces), kind, escaped_id))
            pieces.append("")
            text(after)
        kept = [(k, v) for k, v in headers if k not in (b"content-length", SHARED_HEADER)]
        # Kept on the stored page (the vote-count middleware drops it on the way out).
        return cls(kept, pieces, slots)

    def personalise(self, reader: Reader, csrf: str, state: Any) -> bytes:
        """The page as this reader sees it."""
        fill = _Fillings(state, reader, csrf)
        marks = {
            "csrf": csrf,
            "label": str(escape(reader.user.label)),
            "unread": str(unread_badge(reader.unread)),
        }
        out = self.pieces[:]
        for i, kind, escaped_id in self.slots:
            if kind == "save":
                out[i] = fill.save(escaped_id)
            elif kind == "not-interested":
                out[i] = fill.not_interested(escaped_id)
            elif kind == "vote":
                if unescape(escaped_id) in reader.voted:
                    out[i] = _VOTED % escaped_id
            else:
                out[i] = marks[kind]
        return "".join(out).encode()


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
