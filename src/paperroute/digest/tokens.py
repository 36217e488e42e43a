"""Signed, expiring tokens for the links in subscription emails (itsdangerous, settings.secret_key).

A token names one subscription and one action (`confirm`, `unsubscribe`, `preferences`); a token
for one action never works for another, and each expires (see MAX_AGE). A `confirm` token also
names the subscription request whose preferences the click applies (`r`).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperroute.config import Settings
from paperroute.store.subscriptions import REQUEST_MAX_AGE

MAX_AGE = {
    "confirm": int(REQUEST_MAX_AGE.total_seconds()),  # the request it confirms lives as long
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
    return _serializer_for(settings.secret_key.get_secret_value())


@lru_cache(maxsize=4)
def _serializer_for(secret: str) -> URLSafeTimedSerializer:
    # Kept: making one derives its key (~0.2 ms), and every digest carries two links.
    return URLSafeTimedSerializer(secret, salt="paperroute.subs")


def make_token(
    settings: Settings, subscription_id: int, action: str, request_id: int | None = None
) -> str:
    """A signed token allowing `action` on one subscription (and one request of it)."""
    if action not in MAX_AGE:
        raise ValueError(f"tokens: unknown action {action!r}")
    data: dict = {"s": subscription_id, "a": action}
    if request_id is not None:
        data["r"] = request_id
    return _serializer(settings).dumps(data)


def read_token(settings: Settings, token: str, action: str) -> int:
    """The subscription id in a valid token for `action`; raises TokenError otherwise."""
    return read_token_request(settings, token, action)[0]


def read_token_request(settings: Settings, token: str, action: str) -> tuple[int, int | None]:
    """(subscription id, request id or None) of a valid token; raises TokenError otherwise."""
    try:
        data = _serializer(settings).loads(token, max_age=MAX_AGE[action])
    except SignatureExpired as exc:
        raise TokenError("this link has expired; ask for a new one") from exc
    except BadSignature as exc:
        raise TokenError("this link is not valid") from exc
    if not isinstance(data, dict) or data.get("a") != action or not isinstance(data.get("s"), int):
        raise TokenError("this link is not valid for this page")
    request_id = data.get("r")
    return data["s"], request_id if isinstance(request_id, int) else None


def link(
    settings: Settings, subscription_id: int, action: str, request_id: int | None = None
) -> str:
    """Absolute URL of the page for `action`, with its token."""
    token = make_token(settings, subscription_id, action, request_id)
    return f"{settings.base_url.rstrip('/')}{PATHS[action]}?{urlencode({'token': token})}"
