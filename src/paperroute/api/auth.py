"""Who is calling the API: a per-user bearer token, or the browser session plus the CSRF header."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paperroute.store.auth import user_id_for_api_token
from paperroute.store.users import User, get_user

# Declares the bearer scheme in /openapi.json (Swagger UI's "Authorize"); the header is read below.
BEARER = HTTPBearer(auto_error=False, description="An API token from your profile page")


def api_user(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> User:
    """The caller of a write endpoint; 401 without credentials, 403 on a missing CSRF header.

    Bearer tokens are not sent by browsers on their own, so they need no CSRF check; a browser
    session (cookie) must send the session's CSRF token in `X-CSRF-Token`.
    """
    engine = request.app.state.engine
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        uid = user_id_for_api_token(engine, header[7:].strip())
        user = get_user(engine, uid) if uid else None
        if user is None:
            raise HTTPException(401, "API token unknown or revoked", {"WWW-Authenticate": "Bearer"})
        return user
    uid = request.session.get("uid")
    user = get_user(engine, uid) if uid else None
    if user is None:
        raise HTTPException(
            401, "send Authorization: Bearer <API token>", {"WWW-Authenticate": "Bearer"}
        )
    expected = request.session.get("csrf") or ""
    sent = request.headers.get("x-csrf-token") or ""
    if not expected or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "X-CSRF-Token header missing or wrong")
    return user
