"""Members and authors: public member pages, authorship claims (and the admins' queue), the
public handle and ORCID iD on a profile, and following an author, a category, a venue or a
journal.

A claim is approved at once when store/claims.py can check it, else it waits in /admin/claims.
Following an author writes the digest subscription's author list (store/subscriptions.py), the
one list the digest and For-you read.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response

from paperroute.params import RowId
from paperroute.store import claims as claim_store
from paperroute.store.collections import list_collections
from paperroute.store.listings import papers_by_ids
from paperroute.store.submissions import Limits, submissions_by
from paperroute.store.subscriptions import SubscriptionError, follow_author, follow_tag
from paperroute.store.users import ProfileError, get_user_by_handle, update_public_profile
from paperroute.store.votes import voted_ids
from paperroute.web.deps import (
    engine_of,
    personal_parts_wanted,
    render,
    require_admin,
    require_user,
)
from paperroute.web.presenters import see_other

router = APIRouter()


@router.get("/members/{handle}", name="members.show")
def show(request: Request, handle: str) -> Response:
    """A member's public page: papers they authored, their submissions and public collections."""
    engine = engine_of(request)
    member = get_user_by_handle(engine, handle)
    if member is None:
        raise HTTPException(404, f"member {handle[:60]}: not found")
    authored = [c for c in claim_store.claims_by(engine, member.id) if c.status == "approved"]
    papers = papers_by_ids(engine, [c.paper_id for c in authored])
    submitted = papers_by_ids(engine, [s["paper_id"] for s in submissions_by(engine, member.id)])
    reader = personal_parts_wanted(request)
    shown = [p.id for p in papers + submitted]
    return render(
        request,
        "members/show.html",
        shared=True,
        member=member,
        papers=papers,
        submitted=submitted[:20],
        collections=list_collections(engine, member.id, public_only=True),
        voted=voted_ids(engine, reader.id, shown) if reader else set(),
    )


@router.post("/claims", name="members.claim")
def claim(
    request: Request, paper_id: str = Form(..., max_length=64), author_name: str = Form("")
) -> Response:
    """Claim to be one of a paper's authors; approved at once when it can be checked."""
    user = require_user(request)
    limits = Limits.from_settings(request.app.state.settings)
    host = request.client.host if request.client else "unknown"
    rate = limits.hourly_rate(user)
    request.app.state.limiter.check(f"claim-ip:{host}", rate, 3600)
    request.app.state.limiter.check(f"claim-user:{user.id}", rate, 3600)
    try:
        found = claim_store.claim_authorship(engine_of(request), user, paper_id, author_name)
    except claim_store.ClaimError as exc:
        status = 404 if str(exc).endswith("not found") else 422
        raise HTTPException(status, str(exc)) from None
    if found.status == "approved":
        request.app.state.caches.changed("paper")
    return see_other(request, "accounts.profile", fragment="claims", claimed=found.paper_id)


@router.post("/profile/public", name="members.public_profile")
def public_profile(
    request: Request, handle: str = Form("", max_length=100), orcid: str = Form("", max_length=100)
) -> Response:
    """Set the public handle (/members/<handle>) and the ORCID iD."""
    user = require_user(request)
    try:
        update_public_profile(engine_of(request), user.id, handle, orcid)
    except ProfileError as exc:
        raise HTTPException(422, str(exc)) from None
    request.app.state.caches.changed("user")
    return see_other(request, "accounts.profile", fragment="public")


@router.post("/authors/follow", name="members.follow_author")
def follow(
    request: Request, name: str = Form(..., max_length=200), follow: str = Form("1")
) -> Response:
    """Follow an author (their new papers in your digest and For-you), or stop (`follow=0`)."""
    user = require_user(request)
    try:
        follow_author(engine_of(request), user.id, user.email, name, follow != "0")
    except SubscriptionError as exc:
        raise HTTPException(422, str(exc)) from None
    request.app.state.caches.changed("user", user.id)
    return see_other(request, "accounts.profile", fragment="following")


# What a listing page offers to follow: an arXiv category (cs.CL, hep-th, q-bio.NC), or a venue
# or journal by its digest tag (venue:ACL, journal:1687-725X).
_FOLLOW_TAG = re.compile(r"(?:venue|journal):\S.*|[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?")


@router.post("/follow", name="members.follow_tag")
def follow_listing(
    request: Request, tag: str = Form(..., max_length=200), follow: str = Form("1")
) -> Response:
    """Follow a category, venue or journal in your digest (`follow=0`: stop), then show the
    digest settings, where the followed tags are listed."""
    user = require_user(request)
    tag = " ".join(tag.split())
    if not _FOLLOW_TAG.fullmatch(tag):
        raise HTTPException(
            422, f"tag: {tag[:60]!r} is not a category, venue:<name> or journal:<ISSN>"
        )
    try:
        follow_tag(engine_of(request), user.id, user.email, tag, follow != "0")
    except SubscriptionError as exc:
        raise HTTPException(422, str(exc)) from None
    request.app.state.caches.changed("user", user.id)
    followed = tag if follow != "0" else None
    shown = "subscriptions.settings"
    return see_other(request, shown, fragment="follow_categories", followed=followed)


@router.get("/admin/claims", name="members.claims_queue", dependencies=[Depends(require_admin)])
def claims_queue(request: Request) -> Response:
    """Authorship claims waiting for an admin."""
    pending = claim_store.pending_claims(engine_of(request))
    return render(request, "members/claims_queue.html", claims=pending)


@router.post(
    "/admin/claims/{claim_id}", name="members.decide", dependencies=[Depends(require_admin)]
)
def decide(request: Request, claim_id: RowId, decision: str = Form(...)) -> Response:
    """Approve or reject one claim."""
    if decision not in {"approve", "reject"}:
        raise HTTPException(422, "decision: must be approve or reject")
    if claim_store.decide_claim(engine_of(request), claim_id, decision == "approve") is None:
        raise HTTPException(404, f"claim {claim_id}: not found")
    request.app.state.caches.changed("paper")
    return see_other(request, "members.claims_queue")
