"""Vote counts filled into pages as they are served, so that a vote changes a counter, not pages.

Rendered pages (the anonymous page cache, signed-in shared pages, cached cards) hold a slot for
each vote number they show (web/personal.vote_marker), and VoteCountMiddleware fills the slots
of every HTML answer with the live counts on the way out. Before, each vote made every cached
page stale within a second, and with 40 votes a second re-rendering them took most of a core
(bench/load.py, docs/benchmarks.md "Load").

Counts come from the store, one query per answer for the papers not known yet, and are kept
as long as cached pages are (votes cast by another process show within that time, as before).
A local vote forgets its paper's entry at once, so the voter and every other reader see the new
count on their next page. The slots carry the process's secret, like the other markers, so no
stored text forges one.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from html import unescape

from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperroute.web.bodies import buffered, send_whole
from paperroute.web.cache import UNRANKED_HEADER
from paperroute.web.lookups import quick
from paperroute.web.personal import VOTES_PREFIX

_SLOT = re.compile(re.escape(VOTES_PREFIX.encode()) + rb"(total|local|hf|s):([^\x00]*)\x00")
Counts = dict[str, tuple[int, int]]  # paper id -> (local upvotes, Hugging Face upvotes)


class LiveVotes:
    """Each paper's vote counts, read in batches from the store and kept `ttl` seconds.

    `load(ids)` reads (local, HF) counts of papers from the store (blocking). A vote forgets
    its paper; a read that began before the forgetting does not store what it read, so a
    racing reader never puts the old count back.
    """

    def __init__(self, load: Callable[[list[str]], Counts], ttl: float):
        self.load, self.ttl = load, ttl
        self._known: dict[str, tuple[float, int, int]] = {}  # id -> (read at, local, hf)
        self._forgotten: dict[str, float] = {}  # id -> when a write last changed it
        self._cleared = float("-inf")
        self._lock = threading.Lock()

    def known(self, paper_ids: Iterable[str]) -> tuple[Counts, list[str]]:
        """(fresh counts held, ids not held or no longer fresh)."""
        now = time.monotonic()
        found: Counts = {}
        missing = []
        with self._lock:
            for paper_id in paper_ids:
                hit = self._known.get(paper_id)
                if hit is not None and now - hit[0] < self.ttl:
                    found[paper_id] = hit[1], hit[2]
                else:
                    missing.append(paper_id)
        return found, missing

    def read(self, paper_ids: list[str]) -> Counts:
        """Read counts from the store and keep them (blocking: off the loop on PostgreSQL)."""
        began = time.monotonic()
        counts = self.load(paper_ids)
        self.keep(counts, began)
        return counts

    def keep(self, counts: Counts, began: float) -> None:
        """Hold counts that a store read begun at `began` (time.monotonic) found, unless a
        write since then made them stale (a page that reads its paper anyway, so the vote
        slots it shows need no second query)."""
        with self._lock:
            if began > self._cleared:
                for paper_id, (local, hf) in counts.items():
                    if began > self._forgotten.get(paper_id, float("-inf")):
                        self._known[paper_id] = began, local, hf
            if len(self._known) > 50000:
                self._known.clear()

    def forget(self, paper_id: str | None = None) -> None:
        """A write changed this paper's counts (None: any paper's)."""
        now = time.monotonic()
        with self._lock:
            if paper_id is None:
                self._known.clear()
                self._forgotten.clear()
                self._cleared = now
                return
            self._known.pop(paper_id, None)
            self._forgotten[paper_id] = now
            if len(self._forgotten) > 10000:  # reads that began long ago are over
                old = now - 60
                self._forgotten = {k: t for k, t in self._forgotten.items() if t > old}


def split_slots(body: bytes) -> list[bytes]:
    """The page cut at its vote slots: text, part, escaped paper id, text, part, id, ..., text
    (one regex pass; the slots are then filled by `fill_votes`)."""
    if VOTES_PREFIX.encode() not in body:
        return [body]
    return _SLOT.split(body)


def slot_ids(pieces: list[bytes]) -> set[str]:
    """The papers whose vote numbers a page (cut by `split_slots`) has slots for."""
    return {unescape(paper_id.decode()) for paper_id in pieces[2::3]}


def fill_votes(pieces: list[bytes], counts: Counts) -> bytes:
    """The page with every vote slot replaced by its number (0 for a paper the store lacks)."""
    out = pieces[:]
    for i in range(1, len(pieces), 3):
        local, hf = counts.get(unescape(pieces[i + 1].decode()), (0, 0))
        part = pieces[i]
        if part == b"s":
            number = b"" if local + hf == 1 else b"s"
        else:
            number = str(local if part == b"local" else hf if part == b"hf" else local + hf)
            number = number.encode()
        out[i], out[i + 1] = number, b""
    return b"".join(out)


class VoteCountMiddleware:
    """Fills the vote slots of every HTML answer, cached or rendered (outside the page cache)."""

    def __init__(self, app: ASGIApp, live: LiveVotes, engine: Engine) -> None:
        self.app, self.live, self.engine = app, live, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def wants(start: Message) -> bool:
            kind = next((v for k, v in start.get("headers", []) if k == b"content-type"), b"")
            return kind.startswith(b"text/html")

        async def finish(start: Message, body: bytes) -> None:
            # UNRANKED_HEADER is the caches' note to themselves, never sent
            await send_whole(send, start, await self.fill(body), drop=(UNRANKED_HEADER,))

        capture = buffered(send, wants, finish)
        await self.app(scope, receive, capture)

    async def fill(self, body: bytes) -> bytes:
        """The page with live counts in its vote slots."""
        pieces = split_slots(body)
        if len(pieces) == 1:
            return body
        counts, missing = self.live.known(slot_ids(pieces))
        if missing:
            counts.update(await quick(self.engine, self.live.read, missing))
        return fill_votes(pieces, counts)
