"""A paper's discussion thread, rendered once and personalised per reader.

A 200-comment thread is about 300 KB of HTML; rendering it (the Jinja macros for every comment,
reply form and button) costs ~35 ms of CPU, and each reader sees it differently: their upvotes,
Edit/Delete on their own comments (Report on the others'), their CSRF token. So:

- the thread is rendered once per paper (for members, and for anonymous readers) with slots in
  those places and split at the slots, kept in the data cache (dropped with it by every
  comment, vote, moderation or profile change: web/cache.Caches);
- the paper page itself stays a shared page (web/personal.py: rendered once per URL and role)
  holding one marker where the thread goes, and says so in a response header;
- `ThreadSlotMiddleware`, between the session and the shared-page middleware, puts this
  reader's thread in place of the marker: the cached pieces joined with their votes on this
  paper's comments (one small query, kept like other reader state), their own comments and
  their token. No Jinja and no regular expression per request.

Measured with `bench/web.py --discussion` (docs/benchmarks.md, "Discussion").
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from markupsafe import Markup
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperroute.store.comments import Comment, thread, voted_in_thread
from paperroute.store.papers import get_paper
from paperroute.web.bodies import buffered, send_whole
from paperroute.web.lookups import quick

# A secret per process in every slot, so no comment text (stored HTML) can spell one.
_SECRET = secrets.token_hex(16)
_CSRF = f"\x00{_SECRET}:csrf:0\x00"
_SLOTS = re.compile(f"\x00{_SECRET}:(vote|own|csrf):([0-9]+)\x00")
_MARK = f"\x00{_SECRET}:thread\x00".encode()
HEADER = b"x-paperroute-thread"  # "member <paper id>" or "anonymous <paper id>"; never sent
_VOTED = 'class="link comment-upvote on" aria-pressed="true"'
_NOT_VOTED = 'class="link comment-upvote" aria-pressed="false"'
_REPORT = '<a href="/comments/%d/report" class="comment-report">Report</a>'
_OWN = (
    '<a href="/comments/%d/edit" class="comment-edit">Edit</a>\n    <details class="confirm">'
    '<summary class="link">Delete</summary><form method="post" action="/comments/%d/delete" '
    'class="inline"><input type="hidden" name="csrf_token" value="%s"><button type="submit" '
    'class="danger comment-delete">Delete this comment</button></form></details>'
)


@dataclass(frozen=True)
class RenderedThread:
    """A thread's HTML split at its slots: `pieces` with every slot at its usual value (not
    voted, Report), and where the per-reader values go."""

    pieces: tuple[str, ...]
    csrf_at: tuple[int, ...]
    vote_at: dict[int, int]  # comment id -> index of its vote slot
    own_at: dict[int, list[tuple[int, int]]]  # member id -> [(index, comment id)]

    def for_reader(self, user_id: int | None, voted: set[int], csrf: str) -> str:
        """The thread as this reader sees it."""
        out = list(self.pieces)
        for i in self.csrf_at:
            out[i] = csrf
        for cid in voted:
            if cid in self.vote_at:
                out[self.vote_at[cid]] = _VOTED
        for i, cid in self.own_at.get(user_id, ()) if user_id is not None else ():
            out[i] = _OWN % (cid, cid, csrf)
        return "".join(out)


def _slot(kind: str, comment_id: int) -> Markup:
    return Markup(f"\x00{_SECRET}:{kind}:{int(comment_id)}\x00")


def _authors(items: list[Comment], into: dict[int, int | None]) -> dict[int, int | None]:
    for c in items:
        into[c.id] = c.user_id
        _authors(c.replies, into)
    return into


def _render(state, paper_id: str, member: bool) -> RenderedThread | None:
    paper = get_paper(state.engine, paper_id)
    if paper is None:
        return None
    comments = thread(state.engine, paper.id)
    html = state.templates.get_template("comments/_thread.html").render(
        paper=paper,
        thread=comments,
        user=member,  # the template asks only whether someone is signed in
        csrf_token=lambda: _CSRF,
        comment_slot=_slot,
        max_chars=state.discussion.limits.max_chars,
    )
    authors = _authors(comments, {})
    split = _SLOTS.split(html)  # text, kind, id, text, kind, id, ..., text
    pieces: list[str] = []
    csrf_at: list[int] = []
    vote_at: dict[int, int] = {}
    own_at: dict[int, list[tuple[int, int]]] = {}
    for n, part in enumerate(split):
        if n % 3 == 0:
            pieces.append(part)
        elif n % 3 == 1:
            kind, cid = part, int(split[n + 1])
            if kind == "csrf":
                csrf_at.append(len(pieces))
                pieces.append("")
            elif kind == "vote":
                vote_at[cid] = len(pieces)
                pieces.append(_NOT_VOTED)
            else:
                author = authors.get(cid)
                if author is not None:
                    own_at.setdefault(author, []).append((len(pieces), cid))
                pieces.append(_REPORT % cid)
    return RenderedThread(tuple(pieces), tuple(csrf_at), vote_at, own_at)


def rendered_thread(state, paper_id: str, member: bool) -> RenderedThread | None:
    """The paper's thread with slots (rendered on first use, then from the data cache)."""
    return state.data_cache.remember(
        ("thread-html", paper_id, member), lambda: _render(state, paper_id, member)
    )


def _voted(state, paper_id: str, user_id: int) -> set[int]:
    return state.data_cache.remember(
        ("thread-votes", paper_id, user_id),
        lambda: voted_in_thread(state.engine, paper_id, user_id),
    )


def thread_marker(paper_id: str, member: bool) -> tuple[Markup, dict[str, str]]:
    """What a paper page puts where its thread goes, and the response header that says so."""
    return Markup(_MARK.decode()), {
        HEADER.decode(): f"{'member' if member else 'anonymous'} {paper_id}"
    }


async def _thread_for(scope: Scope, what: str) -> bytes:
    state = scope["app"].state
    variant, paper_id = what.split(" ", 1)
    member = variant == "member"
    session = scope.get("session") or {}
    uid = session.get("uid") if member else None
    found = state.data_cache.get(("thread-html", paper_id, member))
    if found is None:  # the route rendered it; gone only when a write emptied the cache
        found = await quick(state.engine, rendered_thread, state, paper_id, member)
    if found is None:
        return b""
    voted: set[int] = set()
    if uid is not None:
        voted = state.data_cache.get(("thread-votes", paper_id, uid))
        if voted is None:
            voted = await quick(state.engine, _voted, state, paper_id, uid)
    return found.for_reader(uid, voted, session.get("csrf") or "").encode()


class ThreadSlotMiddleware:
    """Puts the reader's thread into a paper page that carries the thread marker (see the
    module docstring). Inside the session middleware, outside the shared-page middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return

        def wants(start: Message) -> bool:
            return any(k == HEADER for k, _ in start.get("headers", []))

        async def finish(start: Message, body: bytes) -> None:
            what = next(v for k, v in start["headers"] if k == HEADER).decode()
            at = body.find(_MARK)
            if at >= 0:
                body = body[:at] + await _thread_for(scope, what) + body[at + len(_MARK) :]
            await send_whole(send, start, body, drop=(HEADER,))

        capture = buffered(send, wants, finish)
        await self.app(scope, receive, capture)
