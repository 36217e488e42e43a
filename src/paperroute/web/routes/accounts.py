"""Accounts: passwordless sign-in by emailed magic link, sign-out, profile and API tokens.

The emailed link opens a page with a button; only the POST of that button signs in, so mail
scanners that pre-fetch links cannot burn the single-use token, and no GET changes state.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperroute.mail import MailError, new_message, send_email
from paperroute.params import RowId
from paperroute.store import auth, users
from paperroute.store.claims import claims_by
from paperroute.store.collections import delete_saved_search, list_collections, list_saved_searches
from paperroute.store.submissions import submissions_by
from paperroute.store.subscriptions import subscription_of_user
from paperroute.web.deps import current_user, engine_of, render, require_user
from paperroute.web.feedlinks import saved_search_feed_token
from paperroute.web.presenters import safe_next, see_other, url_for
from paperroute.web.security import SESSION_ID

router = APIRouter()
NEW_TOKEN = "new_api_token"  # session key: a token just created, shown once on /profile


@router.get("/signin", name="accounts.signin_form")
def signin_form(request: Request, next: str = "/") -> Response:
    """The sign-in form: one email field."""
    return render(request, "accounts/signin.html", next=safe_next(next))


@router.post("/signin", name="accounts.signin")
def signin(request: Request, email: str = Form(""), next: str = Form("/")) -> Response:
    """Email a single-use sign-in link (15 minutes).

    A plain `def`: FastAPI runs it in the thread pool, so the SMTP conversation never holds up
    the event loop. Limits count per client IP and per normalised address, so `Victim@X` and
    `victim@x` share one budget.
    """
    limiter = request.app.state.limiter
    host = request.client.host if request.client else "unknown"
    limiter.check(f"signin-ip:{host}", 20, 900)
    next = safe_next(next)
    try:
        address = users.normalise_email(email)
    except users.EmailError as exc:
        return _signin_error(request, 422, f"Email: {exc}", email, next)
    if not limiter.allow(f"signin-email:{address}", 5, 900):
        error = "Email: too many sign-in links were sent to this address; wait 15 minutes."
        return _signin_error(request, 429, error, email, next)
    settings = request.app.state.settings
    token = auth.create_login_token(engine_of(request), address)
    link = (
        f"{settings.base_url.rstrip('/')}/signin/verify?{urlencode({'token': token, 'next': next})}"
    )
    if not settings.smtp_configured:
        # Development without a mail server (production refuses to start without one): the
        # link goes on the page, marked as such, and never into a log.
        return render(request, "accounts/check_email.html", email=address, dev_link=link)
    msg = new_message(settings, address, f"Sign in to {settings.site_name}")
    msg.set_content(
        f"Open this link to sign in to {settings.site_name}:\n\n{link}\n\n"
        "It works once, for 15 minutes. If you did not ask for it, ignore this email.\n"
    )
    try:
        send_email(settings, msg)
    except MailError as exc:
        request.app.state.log.error("%s", exc)
        error = "We could not send the email right now; try again in a few minutes."
        return _signin_error(request, 503, error, email, next)
    return render(request, "accounts/check_email.html", email=address, dev_link=None)


def _signin_error(request: Request, status: int, error: str, email: str, next: str) -> Response:
    """The sign-in form again, with the error at the field and what was typed kept."""
    return render(request, "accounts/signin.html", status=status, error=error, email=email,
                  next=next)  # fmt: skip


@router.get("/signin/verify", name="accounts.verify_form")
def verify_form(request: Request, token: str = "", next: str = "/") -> Response:
    """The page the emailed link opens: one button that finishes signing in."""
    return render(request, "accounts/verify.html", token=token, next=safe_next(next))


@router.post("/signin/verify", name="accounts.verify")
def verify(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
    """Use the token once and start a session."""
    engine = engine_of(request)
    email = auth.consume_login_token(engine, token)
    if email is None:
        return render(
            request,
            "accounts/signin.html",
            status=400,
            error="That sign-in link has expired or was already used. Ask for a new one.",
            next=next,
        )
    try:
        user = users.record_login(engine, email)
    except users.EmailError as exc:  # a token stored before addresses were checked
        error = f"That sign-in link cannot be used: {exc}. Ask for a new one."
        return _signin_error(request, 400, error, "", safe_next(next))
    request.session.clear()  # a fresh session (and CSRF token) after sign-in
    request.session[SESSION_ID] = auth.create_session(engine, user.id)
    request.session["uid"] = user.id
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/signout", name="accounts.signout")
def signout(request: Request) -> Response:
    """End the session, here and in the store, so a copy of the cookie no longer works."""
    sid = request.session.get(SESSION_ID)
    if isinstance(sid, str):
        auth.end_session(engine_of(request), sid)
        request.app.state.caches.session_ended(sid)
    request.session.clear()
    return see_other(request, "papers.home")


def _profile(request: Request, **extra) -> Response:
    user = require_user(request)
    engine = engine_of(request)
    secret = request.app.state.settings.secret_key.get_secret_value()
    searches = [
        {**s, "feed_token": saved_search_feed_token(secret, s["id"])}
        for s in list_saved_searches(engine, user.id)
    ]
    followed = subscription_of_user(engine, user.id, user.email)
    return render(
        request,
        "accounts/profile.html",
        tokens=auth.list_api_tokens(engine, user.id),
        collections=list_collections(engine, user.id),
        searches=searches,
        claims=claims_by(engine, user.id),
        submissions=submissions_by(engine, user.id),
        followed=followed.prefs.follow_authors if followed else [],
        **extra,
    )


@router.get("/profile", name="accounts.profile")
def profile(request: Request) -> Response:
    """Your account: name, API tokens, collections and saved searches."""
    if current_user(request) is None:
        return see_other(request, "accounts.signin_form", next=url_for(request, "accounts.profile"))
    response = _profile(request, new_token=request.session.pop(NEW_TOKEN, None))
    response.headers["cache-control"] = "no-store"  # it may show a new token
    return response


@router.post("/profile", name="accounts.update")
def update_profile(request: Request, display_name: str = Form("")) -> Response:
    """Change the name the site shows."""
    user = require_user(request)
    users.update_profile(engine_of(request), user.id, display_name)
    request.app.state.caches.changed("user")
    return see_other(request, "accounts.profile")


@router.post("/profile/tokens", name="accounts.token_create")
def create_token(request: Request, name: str = Form("API token")) -> Response:
    """Create an API token; the profile page it redirects to shows it once."""
    user = require_user(request)
    raw = auth.create_api_token(engine_of(request), user.id, name)
    # post/redirect/get: a reload must not create a second token, and the token must not
    # stay on a POST URL; the session carries it to the next page, which takes it out.
    request.session[NEW_TOKEN] = raw
    return see_other(request, "accounts.profile", fragment="tokens")


@router.post("/profile/tokens/{token_id}/delete", name="accounts.token_delete")
def delete_token(request: Request, token_id: RowId) -> Response:
    """Revoke an API token."""
    user = require_user(request)
    if not auth.delete_api_token(engine_of(request), user.id, token_id):
        raise HTTPException(404, f"API token {token_id}: not found")
    return see_other(request, "accounts.profile")


@router.post("/profile/searches/{search_id}/delete", name="accounts.search_delete")
def delete_search(request: Request, search_id: RowId) -> Response:
    """Forget a saved search."""
    user = require_user(request)
    delete_saved_search(engine_of(request), user.id, search_id)
    return see_other(request, "accounts.profile")
