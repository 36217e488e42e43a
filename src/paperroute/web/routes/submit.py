"""Community submissions: a signed-in member puts a paper on the daily page by arXiv id or URL.

The use case (sources/submit.py) fetches the paper through the one ingest path and records the
submission within the instance's limits; this page adds the per-address rate limit.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from paperroute.models import paper_path
from paperroute.sources.submit import submit_paper
from paperroute.store.submissions import Limits, SubmissionError, submissions_by
from paperroute.store.users import User
from paperroute.web.deps import current_user, engine_of, render, require_user
from paperroute.web.presenters import see_other, url_for

router = APIRouter()


def _form(request: Request, user: User, status: int = 200, **extra) -> Response:
    limits = Limits.from_settings(request.app.state.settings)
    return render(
        request,
        "submit/form.html",
        status=status,
        limits=limits,
        is_new=limits.is_new(user),
        mine=submissions_by(engine_of(request), user.id)[:10],
        **extra,
    )


@router.get("/submit", name="submit.form")
def form(request: Request) -> Response:
    """The submission form: one field for an arXiv id or URL."""
    user = current_user(request)
    if user is None:
        return see_other(request, "accounts.signin_form", next=url_for(request, "submit.form"))
    return _form(request, user)


@router.post("/submit", name="submit.create")
def create(request: Request, arxiv: str = Form("", max_length=500)) -> Response:
    """Fetch the paper (when new here) and put it on today's daily page as this member's."""
    user = require_user(request)
    limits = Limits.from_settings(request.app.state.settings)
    host = request.client.host if request.client else "unknown"
    request.app.state.limiter.check(f"submit-ip:{host}", limits.hourly_rate(user), 3600)
    try:
        paper_id = submit_paper(request.app.state.ingest, user, arxiv, limits)
    except SubmissionError as exc:
        return _form(request, user, status=422, error=str(exc), value=arxiv)
    request.app.state.caches.changed("paper")
    return RedirectResponse(paper_path(paper_id), status_code=303)
