"""Sign-in tokens (emailed magic links), browser sessions and per-user API tokens.

Every secret is stored only as its SHA-256 hash.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from paperroute.store.schema import api_tokens, login_tokens, sessions, users
from paperroute.store.users import normalise_email

LOGIN_TOKEN_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(days=30)  # as long as the session cookie lives


def hash_token(raw: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_login_token(engine: Engine, email: str, now: datetime | None = None) -> str:
    """A fresh single-use sign-in token for this email (valid 15 minutes); returns the raw token."""
    raw = secrets.token_urlsafe(32)
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(login_tokens.delete().where(login_tokens.c.expires_at < now))
        conn.execute(
            login_tokens.insert(),
            {
                "token_hash": hash_token(raw),
                "email": normalise_email(email),
                "created_at": now,
                "expires_at": now + LOGIN_TOKEN_TTL,
            },
        )
    return raw


def consume_login_token(engine: Engine, raw: str, now: datetime | None = None) -> str | None:
    """The email the token was issued to, once; None if unknown, used or expired."""
    now = now or datetime.now(UTC)
    token_hash = hash_token(raw or "")
    with engine.begin() as conn:
        # One UPDATE matching only an unused, unexpired token: two concurrent uses cannot both win.
        result = conn.execute(
            login_tokens.update()
            .where(
                login_tokens.c.token_hash == token_hash,
                login_tokens.c.used_at.is_(None),
                login_tokens.c.expires_at > now,
            )
            .values(used_at=now)
        )
        if result.rowcount != 1:
            return None
        return conn.execute(
            select(login_tokens.c.email).where(login_tokens.c.token_hash == token_hash)
        ).scalar_one()


def create_session(engine: Engine, user_id: int, now: datetime | None = None) -> str:
    """A new session for the user (30 days); returns the raw id the cookie carries."""
    raw = secrets.token_urlsafe(32)
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.expires_at < now))
        conn.execute(
            sessions.insert(),
            {
                "id_hash": hash_token(raw),
                "user_id": user_id,
                "created_at": now,
                "expires_at": now + SESSION_TTL,
            },
        )
    return raw


def session_user_id(engine: Engine, raw: str, now: datetime | None = None) -> int | None:
    """The user of a live session, or None when it was ended, revoked or has expired."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        return conn.execute(
            select(sessions.c.user_id).where(
                sessions.c.id_hash == hash_token(raw or ""), sessions.c.expires_at > now
            )
        ).scalar_one_or_none()


def end_session(engine: Engine, raw: str) -> None:
    """Forget one session (sign-out)."""
    with engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == hash_token(raw or "")))


def end_user_sessions(engine: Engine, user_id: int) -> int:
    """Forget every session of a user (admin revocation); returns how many there were."""
    with engine.begin() as conn:
        return conn.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount


def create_api_token(engine: Engine, user_id: int, name: str) -> str:
    """A new API token for the user; the raw value is shown once and stored hashed."""
    raw = "pr_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            api_tokens.insert(),
            {
                "user_id": user_id,
                "name": (name or "token").strip()[:255] or "token",
                "token_hash": hash_token(raw),
                "created_at": datetime.now(UTC),
            },
        )
    return raw


def user_id_for_api_token(engine: Engine, raw: str) -> int | None:
    """The user owning this API token (stamping its last use), or None."""
    token_hash = hash_token(raw or "")
    with engine.begin() as conn:
        row = conn.execute(
            select(api_tokens.c.id, api_tokens.c.user_id)
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        conn.execute(
            api_tokens.update()
            .where(api_tokens.c.id == row.id)
            .values(last_used_at=datetime.now(UTC))
        )
    return row.user_id


def list_api_tokens(engine: Engine, user_id: int) -> list[dict]:
    """The user's tokens (names and dates, never the secret)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                api_tokens.c.id,
                api_tokens.c.name,
                api_tokens.c.created_at,
                api_tokens.c.last_used_at,
            )
            .where(api_tokens.c.user_id == user_id)
            .order_by(api_tokens.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def delete_api_token(engine: Engine, user_id: int, token_id: int) -> bool:
    """Revoke one of the user's tokens; False when it is not theirs."""
    with engine.begin() as conn:
        result = conn.execute(
            api_tokens.delete().where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
        )
    return result.rowcount == 1
