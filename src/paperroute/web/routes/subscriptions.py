"""Digest subscriptions on the web: subscribe, confirm, preferences, unsubscribe, preview.

Emailed links carry signed, expiring tokens (digest/tokens.py) and open pages with a button: no
GET changes state, so mail scanners that pre-fetch links confirm or unsubscribe nothing. The one
exception to CSRF protection is `oneclick_router`: mail clients POST RFC 8058 one-click
unsubscribes there without a session; the token in the URL is the authorisation.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from paperroute.digest.delivery import preview_digest
from paperroute.digest.render import author_line, excerpt, render_digest, subscription_message
from paperroute.digest.tokens import (
    TokenError,
    link,
    make_token,
    read_token,
    read_token_request,
)
from paperroute.mail import MailError, send_email
from paperroute.store import subscriptions as subs
from paperroute.store.subscriptions import Preferences, Subscription, SubscriptionError
from paperroute.web.deps import (
    current_user,
    engine_of,
    json_response,
    render,
    require_user,
    search_service,
)
from paperroute.web.presenters import see_other

PREVIEW_KEPT_S = 300.0  # a reader's digest preview, unless a write drops it sooner

router = APIRouter()
oneclick_router = APIRouter()

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SECTION_LABELS = {
    "topics": "Papers per topic",
    "authors": "Authors you follow",
    "categories": "Categories you follow",
    "for_you": "For you (like your saved and upvoted papers)",
    "trending": "Trending",
}


def _settings(request: Request):
    return request.app.state.settings


def _split(value: str, commas: bool = False) -> list[str]:
    text = value.replace(",", "\n") if commas else value
    return [line.strip() for line in text.splitlines() if line.strip()]


def _prefs_from_form(form) -> Preferences:
    """The preferences a submitted form asks for (numbers checked; the rest by Preferences)."""

    def number(name: str, default: int) -> int:
        raw = str(form.get(name, default)).strip()
        try:
            return int(raw)
        except ValueError as exc:
            raise SubscriptionError(f"{name}: {raw!r} is not a number") from exc

    return Preferences(
        cadence=str(form.get("cadence", "daily")),
        weekday=number("weekday", 0),
        send_hour=number("send_hour", 7),
        timezone=str(form.get("timezone", "UTC")).strip() or "UTC",
        sections={k: number(f"section_{k}", v) for k, v in subs.DEFAULT_SECTIONS.items()},
        topics=_split(str(form.get("topics", ""))),
        follow_authors=_split(str(form.get("follow_authors", ""))),
        follow_categories=_split(str(form.get("follow_categories", "")), commas=True),
        send_empty=form.get("send_empty") == "on",
    )


def _form_page(request: Request, status: int = 200, **context) -> Response:
    context.setdefault("prefs", Preferences())
    context.setdefault("subscription", None)
    context.setdefault("token", None)
    context.setdefault("error", None)
    context.setdefault("email", "")
    return render(
        request,
        "subscriptions/form.html",
        status=status,
        weekdays=WEEKDAYS,
        section_labels=SECTION_LABELS,
        **context,
    )


def _user_subscription(request: Request) -> Subscription | None:
    user = current_user(request)
    if user is None:
        return None
    return subs.subscription_of_user(engine_of(request), user.id, user.email)


@router.get("/subscribe", name="subscriptions.form")
def subscribe_form(request: Request) -> Response:
    """The subscribe form; signed-in readers who already subscribed get their preferences."""
    if _user_subscription(request) is not None:
        return see_other(request, "subscriptions.settings")
    user = current_user(request)
    return _form_page(request, email=user.email if user else "")


@router.post("/subscribe", name="subscriptions.create")
async def subscribe(request: Request) -> Response:
    """Ask for a digest: the address gets a confirmation link (and nothing else until clicked).

    The store and SMTP work runs in the thread pool, off the event loop.
    """
    form = await request.form()
    return await run_in_threadpool(_subscribe, request, form)


def _subscribe(request: Request, form) -> Response:
    """A signed-in reader subscribing their own account address has already proven they own it
    (they signed in through a link sent there), so that subscription is active at once. Any
    other address gets a confirmation mail, at most 3 an hour per address and 20 per 15
    minutes per client IP, so /subscribe cannot be used to flood someone's inbox."""
    email = str(form.get("email", ""))
    host = request.client.host if request.client else "unknown"
    request.app.state.limiter.check(f"subscribe-ip:{host}", 20, 900)
    engine, settings, user = engine_of(request), _settings(request), current_user(request)
    try:
        address = subs.check_email(email)
        prefs = _prefs_from_form(form)
        if user is not None and address == user.email:
            subs.subscribe_own_address(engine, user.id, address, prefs)
            return see_other(request, "subscriptions.settings", saved=1)
        if request.app.state.limiter.allow(f"subscribe-email:{address}", 3, 3600):
            sub = subs.subscribe(engine, address, prefs)
        else:
            error = ("email: this address was sent 3 confirmation emails in the last hour; "
                     "use one of them or try again later")  # fmt: skip
            return _form_page(request, status=429, error=error, email=email)
    except SubscriptionError as exc:
        return _form_page(request, status=422, error=str(exc), email=email)
    if not settings.smtp_configured:
        # Development without a mail server (production refuses to start without one): the
        # link goes on the page, marked as such, and never into a log.
        url = (link(settings, sub.id, "confirm", sub.request_id) if sub.request_id
               else link(settings, sub.id, "preferences"))  # fmt: skip
        return render(request, "subscriptions/check_email.html", email=sub.email, dev_link=url)
    try:
        send_email(settings, subscription_message(settings, sub))
    except MailError as exc:
        request.app.state.log.warning("confirmation email failed: %s", exc)
        error = "We could not send the email now; try again in a few minutes."
        return _form_page(request, status=503, error=error, email=email)
    return render(request, "subscriptions/check_email.html", email=sub.email, dev_link=None)


def _token_subscription(request: Request, token: str, action: str) -> Subscription:
    try:
        sub_id = read_token(_settings(request), token, action)
    except TokenError as exc:
        raise HTTPException(400, str(exc)) from exc
    sub = subs.get_subscription(engine_of(request), sub_id)
    if sub is None:
        raise HTTPException(404, "This subscription no longer exists")
    return sub


@router.get("/subscriptions/confirm", name="subscriptions.confirm_page")
def confirm_page(request: Request, token: str = "") -> Response:
    """The page behind the emailed confirmation link: one button that confirms."""
    sub = _token_subscription(request, token, "confirm")
    return render(request, "subscriptions/confirm.html", subscription=sub, token=token)


@router.post("/subscriptions/confirm", name="subscriptions.confirm")
async def confirm(request: Request) -> Response:
    """Activate the subscription (double opt-in complete) with the preferences of this request."""
    token = str((await request.form()).get("token", ""))
    return await run_in_threadpool(_confirm, request, token)


def _confirm(request: Request, token: str) -> Response:
    try:
        sub_id, request_id = read_token_request(_settings(request), token, "confirm")
    except TokenError as exc:
        raise HTTPException(400, str(exc)) from exc
    user = current_user(request)
    sub = subs.confirm_subscription(engine_of(request), sub_id, request_id, user and user.id)
    if sub is None:
        raise HTTPException(404, "This subscription no longer exists")
    return render(request, "subscriptions/confirmed.html", subscription=sub)


@router.get("/subscriptions/preferences", name="subscriptions.preferences")
def preferences_page(request: Request, token: str = "", format: str = "") -> Response:
    """Preferences from an emailed link (no sign-in needed)."""
    sub = _token_subscription(request, token, "preferences")
    if format == "json":
        return json_response({"email": sub.email, "status": sub.status, **sub.prefs.__dict__})
    return _form_page(request, subscription=sub, prefs=sub.prefs, token=token, email=sub.email)


@router.post("/subscriptions/preferences", name="subscriptions.save_preferences")
async def save_preferences(request: Request) -> Response:
    """Save preferences changed through an emailed link."""
    form = await request.form()

    def save() -> Response:
        token = str(form.get("token", ""))
        return _save(request, form, _token_subscription(request, token, "preferences"), token)

    return await run_in_threadpool(save)


def _save(request: Request, form, sub: Subscription, token: str | None) -> Response:
    engine = engine_of(request)
    try:
        prefs = _prefs_from_form(form)
        sub = subs.update_preferences(engine, sub.id, prefs)
    except SubscriptionError as exc:
        return _form_page(request, status=422, error=str(exc), subscription=sub, prefs=sub.prefs,
                          token=token, email=sub.email)  # fmt: skip
    if form.get("resume") == "on" and sub.status in ("paused", "unsubscribed"):
        sub = subs.resume_subscription(engine, sub.id)
    return _form_page(request, subscription=sub, prefs=sub.prefs, token=token, email=sub.email,
                      saved=True)  # fmt: skip


@router.get("/settings/digest", name="subscriptions.settings")
def settings_page(request: Request) -> Response:
    """A signed-in reader's digest settings (the subscribe form when they have none)."""
    user = require_user(request)
    sub = _user_subscription(request)
    if sub is None:
        return _form_page(request, email=user.email)
    saved = request.query_params.get("saved") == "1"
    # what a listing's Follow button just added (shown only if it is really followed)
    followed = request.query_params.get("followed", "")[:200]
    if followed not in sub.prefs.follow_categories:
        followed = ""
    stop = make_token(request.app.state.settings, sub.id, "unsubscribe")  # the button below
    return _form_page(
        request,
        subscription=sub,
        prefs=sub.prefs,
        email=sub.email,
        saved=saved,
        followed=followed,
        stop_token=stop,
    )


@router.post("/settings/digest", name="subscriptions.save_settings")
async def save_settings(request: Request) -> Response:
    """Save a signed-in reader's digest preferences."""
    form = await request.form()

    def save() -> Response:
        require_user(request)
        sub = _user_subscription(request)
        if sub is None:
            raise HTTPException(404, "You have no digest subscription yet")
        return _save(request, form, sub, None)

    return await run_in_threadpool(save)


@router.get("/subscriptions/unsubscribe", name="subscriptions.unsubscribe_page")
def unsubscribe_page(request: Request, token: str = "") -> Response:
    """The page behind the Unsubscribe link: a button; GET itself changes nothing."""
    sub = _token_subscription(request, token, "unsubscribe")
    return render(request, "subscriptions/unsubscribe.html", subscription=sub, token=token)


@oneclick_router.post("/subscriptions/unsubscribe", name="subscriptions.unsubscribe")
def unsubscribe(request: Request, token: str = "") -> Response:
    """Unsubscribe: the RFC 8058 one-click POST from mail clients, and the page's button.

    No sign-in and no CSRF token: mail clients post `List-Unsubscribe=One-Click` without any
    session, and the signed token in the URL is what authorises it.
    """
    sub = _token_subscription(request, token, "unsubscribe")
    sub = subs.unsubscribe(engine_of(request), sub.id)
    return render(request, "subscriptions/unsubscribed.html", subscription=sub)


@router.get("/digest/preview", name="subscriptions.preview")
def preview(request: Request, format: str = "html") -> Response:
    """The digest the signed-in reader would get now (nothing is sent or recorded).

    Shown as a site page: the email's own HTML relies on inline styles, which the site's
    Content-Security-Policy rightly blocks; `?format=text` gives the exact plain-text part."""
    user = require_user(request)
    sub = _user_subscription(request)
    if sub is None:
        # Not subscribed yet: preview what the default preferences would bring.
        sub = Subscription(id=0, email=user.email, status="preview", prefs=Preferences(),
                           user_id=user.id)  # fmt: skip
    settings = _settings(request)
    # Composing reads every candidate paper (about 2 s on the demo); the same reader's preview is
    # kept for PREVIEW_KEPT_S (any local write or "not interested" drops it at once; papers a
    # worker process adds show within that time), so only a reader's first look composes.
    key = ("digest-preview", user.id, sub.id, repr(sub.prefs))
    digest = request.app.state.data_cache.remember(
        key,
        lambda: preview_digest(settings, engine_of(request), sub, search_service(request)),
        ttl=PREVIEW_KEPT_S,
    )
    if format == "json":
        sections = [
            {
                "key": s.key,
                "title": s.title,
                "papers": [
                    {"id": i.paper.id, "title": i.paper.title, "why": i.reasons} for i in s.items
                ],
            }
            for s in digest.sections
        ]
        return json_response({"email": sub.email, "period": digest.period, "sections": sections})
    if format == "text":
        _, text = render_digest(settings, sub, digest)
        return Response(text, media_type="text/plain; charset=utf-8")
    return render(request, "subscriptions/preview.html", digest=digest, email=sub.email,
                  subscribed=sub.id != 0, excerpt=excerpt, authors=author_line)  # fmt: skip
