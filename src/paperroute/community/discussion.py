"""The discussion use case: post, edit, delete, upvote and report comments, and moderate them.

Pages and the JSON API both call `Discussion` (built once per app, `app.state.discussion`), so
the limits, rendering, notifications and cache changes are the same whichever way a comment
comes in. The Markdown renderer is handed in (web/commentmark.py: Markdown, LaTeX math, then an
allow-list sanitiser), because HTML is the web layer's business; the HTML is stored with the
comment, so views never render Markdown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine

from paperroute.community.notifications import notify_comment
from paperroute.store import comments as store
from paperroute.store.comments import Comment, CommentError, CommentForbidden
from paperroute.store.users import User

# (Markdown source) -> (sanitised HTML, the @handles it mentions)
Renderer = Callable[[str], tuple[str, list[str]]]


class Limiter(Protocol):
    """A sliding-window rate limiter (web/security.RateLimiter)."""

    def allow(self, key: str, limit: int, per_seconds: float) -> bool: ...


class RateLimited(CommentError):
    """Too many comments too fast; `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, "body")
        self.retry_after = retry_after


@dataclass
class CommentLimits:
    """How much one member and one address may post (per window), and how long a comment is."""

    per_member: int = 10
    per_new_member: int = 3  # accounts younger than `new_account` are throttled harder
    per_ip: int = 30
    window_seconds: float = 600.0
    new_account: timedelta = field(default=timedelta(hours=24))
    max_chars: int = 10_000
    max_report_chars: int = 1_000


@dataclass
class Discussion:
    """Comment writes for every caller: checked, limited, rendered, stored, notified."""

    engine: Engine
    render: Renderer
    limiter: Limiter
    # Drop the caches that show comments (those of one paper, when given), and the given
    # members' state (their unread count).
    changed: Callable[..., None] = lambda user_ids=(), paper_id=None: None
    kick_mail: Callable[[], None] = lambda: None  # send due notification mail soon
    limits: CommentLimits = field(default_factory=CommentLimits)
    # The process's posts take turns on this on SQLite (one writer: `store.posting`).
    posting_turn: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def checked_body(self, body: str | None) -> str:
        """The comment text, or CommentError naming the `body` field."""
        text = (body or "").replace("\x00", "").strip()
        if not text:
            raise CommentError("body: write something first", "body")
        if len(text) > self.limits.max_chars:
            raise CommentError(
                f"body: {len(text):,} characters; a comment may have at most "
                f"{self.limits.max_chars:,}",
                "body",
            )
        return text

    def _allow(self, user: User, ip: str) -> None:
        limits = self.limits
        created = user.created_at if user.created_at.tzinfo else user.created_at.replace(tzinfo=UTC)
        young = datetime.now(UTC) - created < limits.new_account
        per_member = limits.per_new_member if young else limits.per_member
        window = limits.window_seconds
        wait = f"wait {int(window // 60)} minutes and try again"
        if not self.limiter.allow(f"comment:ip:{ip}", limits.per_ip, window):
            raise RateLimited(f"too many comments from your network: {wait}", int(window))
        if not self.limiter.allow(f"comment:user:{user.id}", per_member, window):
            why = " (new accounts may post fewer)" if young else ""
            raise RateLimited(
                f"you posted {per_member} comments in {int(window // 60)} minutes{why}: {wait}",
                int(window),
            )

    def post(
        self, user: User, paper_id: str, body: str | None, parent_id: int | None = None,
        ip: str = "unknown",
    ) -> Comment:  # fmt: skip
        """Post a comment (or a reply), notify who it concerns, and return it.

        One transaction of about six statements, built once (store/comments.py): the paper's
        count raised (which locks it) and the ban checked, the rate limits, the parent, the
        insert, the mentions, who else is told and their notifications. On SQLite the
        process's posts take turns on one lock (`store.posting`)."""
        text = self.checked_body(body)
        html, handles = self.render(text)
        with store.posting(self.engine, self.posting_turn) as conn:
            store.lock_for_comment(conn, paper_id, user.id)
            self._allow(user, ip)  # after the ban check: a banned member is told so
            author = store.author_name(user.display_name, user.email)
            comment = store.insert_comment(conn, paper_id, user.id, author, text, html, parent_id)
            mentioned = store.mentioned_members_in(conn, handles).values()
            notified = notify_comment(conn, comment, mentioned)
        if notified:
            self.kick_mail()
        self.changed(notified, paper_id)
        return comment

    def edit(self, user: User, comment_id: int, body: str | None) -> Comment:
        """Change one's own comment (marked as edited). Mentions added by an edit notify nobody:
        an edit must not become a way to ping people again."""
        text = self.checked_body(body)
        if store.is_banned(self.engine, user.id):
            raise CommentForbidden("you are banned from the discussion on this site")
        html, _ = self.render(text)
        comment = store.edit_comment(self.engine, comment_id, user.id, text, html)
        self.changed()
        return comment

    def delete(self, user: User, comment_id: int) -> Comment:
        """Delete one's own comment (a placeholder stays while it has replies)."""
        comment = store.delete_comment(self.engine, comment_id, user.id)
        self.changed()
        return comment

    def vote(self, user: User, comment_id: int) -> tuple[bool, int]:
        """Flip one's upvote on a comment."""
        if not self.limiter.allow(f"comment-vote:{user.id}", 60, 60):
            raise RateLimited("too many votes: wait a minute and try again", 60)
        result = store.toggle_comment_vote(self.engine, user.id, comment_id)
        self.changed()
        return result

    def report(self, user: User, comment_id: int, reason: str | None) -> bool:
        """Report a comment to the moderators; False if this member had reported it already."""
        text = " ".join((reason or "").split())
        if len(text) > self.limits.max_report_chars:
            raise CommentError(
                f"reason: at most {self.limits.max_report_chars:,} characters", "reason"
            )
        if not self.limiter.allow(f"comment-report:{user.id}", 20, 3600):
            raise RateLimited("too many reports: wait an hour and try again", 3600)
        return store.report_comment(self.engine, comment_id, user.id, text or "no reason given")

    def moderate(self, comment_id: int, action: str) -> Comment:
        """A moderator hides, unhides, deletes a comment or dismisses its reports."""
        comment = store.moderate_comment(self.engine, comment_id, action)
        self.changed()
        return comment

    def ban(self, admin: User, user_id: int, reason: str = "") -> int:
        """Ban a member and hide their comments; returns how many were hidden."""
        if user_id == admin.id:
            raise CommentError("you cannot ban yourself", "user_id")
        hidden = store.ban_member(self.engine, user_id, admin.id, reason)
        self.changed()
        return hidden
