"""Unguessable feed URLs for private things (saved searches): signed ids."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer


def saved_search_feed_token(secret: str, search_id: int) -> str:
    """The token in a saved search's feed URL."""
    return URLSafeSerializer(secret, salt="saved-search-feed").dumps(search_id)


def saved_search_id(secret: str, token: str) -> int | None:
    """The saved search a feed token names, or None when it is forged."""
    try:
        value = URLSafeSerializer(secret, salt="saved-search-feed").loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None
