"""Signed, expiring tokens for the links in subscription emails (itsdangerous, settings.secret_key).

A token names one subscription and one action (`confirm`, `unsubscribe`, `preferences`); a token
for one action never works for another, and each expires (see MAX_AGE).
"""

from __future__ import annotations

from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperroute.config import Settings

MAX_AGE = {
    "confirm": 7 * 24 * 3600,
    "unsubscribe": 180 * 24 * 3600,  # old digests must still let a reader leave
    "preferences": 60 * 24 * 3600,
}
PATHS = {
    "confirm": "/subscriptions/confirm",
    "unsubscribe": "/subscriptions/unsubscribe",
    "preferences": "/subscriptions/preferences",
}


class TokenError(ValueError):
    """A link token that is forged, for another action, or expired."""


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt="paperroute.subs")


def make_token(settings: Settings, subscription_id: int, action: str) -> str:
    """A signed token allowing `action` on one subscription."""
    if action not in MAX_AGE:
        raise ValueError(f"tokens: unknown action {action!r}")
    return _serializer(settings).dumps({"s": subscription_id, "a": action})


def read_token(settings: Settings, token: str, action: str) -> int:
    """The subscription id in a valid token for `action`; raises TokenError otherwise."""
    try:
        data = _serializer(settings).loads(token, max_age=MAX_AGE[action])
    except SignatureExpired as exc:
        raise TokenError("this link has expired; ask for a new one") from exc
    except BadSignature as exc:
        raise TokenError("this link is not valid") from exc
    if not isinstance(data, dict) or data.get("a") != action or not isinstance(data.get("s"), int):
        raise TokenError("this link is not valid for this page")
    return data["s"]


def link(settings: Settings, subscription_id: int, action: str) -> str:
    """Absolute URL of the page for `action`, with its token."""
    token = make_token(settings, subscription_id, action)
    return f"{settings.base_url.rstrip('/')}{PATHS[action]}?{urlencode({'token': token})}"
