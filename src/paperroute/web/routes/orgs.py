"""Organisations: a page per organisation (its papers, members and feed), and the admins' list
where organisations are made and members assigned (store/orgs.py says where they come from)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperroute.params import Page, RowId
from paperroute.store import listings
from paperroute.store import orgs as org_store
from paperroute.store.users import get_user_by_email, get_user_by_handle
from paperroute.store.votes import voted_ids
from paperroute.web.deps import engine_of, personal_parts_wanted, render, require_admin
from paperroute.web.presenters import org_or_404

router = APIRouter()
PAGE_SIZE = 50


@router.get("/orgs/{slug}", name="orgs.show")
def show(request: Request, slug: str, p: Page = 0) -> Response:
    """An organisation's papers (newest first), its members and its feed."""
    engine = engine_of(request)
    org = org_or_404(request, slug)
    papers, total = listings.list_papers(
        engine,
        listings.PaperFilter(organizations=org.names),
        order="published",
        limit=PAGE_SIZE,
        offset=p * PAGE_SIZE,
    )
    reader = personal_parts_wanted(request)
    return render(
        request,
        "orgs/show.html",
        shared=True,
        org=org,
        papers=papers,
        total=total,
        members=org_store.org_members_of(engine, org),
        voted=voted_ids(engine, reader.id, [x.id for x in papers]) if reader else set(),
        page_number=p,
        has_more=(p + 1) * PAGE_SIZE < total,
        feed_url=f"/feeds/orgs/{org.slug}",
    )


@router.get("/admin/orgs", name="orgs.admin", dependencies=[Depends(require_admin)])
def admin(request: Request, error: str = "") -> Response:
    """Organisations admins made: create one, assign members."""
    orgs = org_store.list_orgs(engine_of(request))
    return render(request, "orgs/admin.html", orgs=orgs, error=error)


@router.post("/admin/orgs", name="orgs.create", dependencies=[Depends(require_admin)])
def create(
    request: Request,
    name: str = Form("", max_length=255),
    names: str = Form("", max_length=5000),
    domains: str = Form("", max_length=5000),
) -> Response:
    """Make an organisation: its name, other spellings sources use, its email domains."""
    try:
        org = org_store.create_org(
            engine_of(request), name, names.splitlines(), domains.replace(",", " ").split()
        )
    except org_store.OrgError as exc:
        response = admin(request, error=str(exc))
        response.status_code = 422
        return response
    request.app.state.caches.changed("paper")
    return RedirectResponse(org.url, status_code=303)


@router.post(
    "/admin/orgs/{org_id}/members", name="orgs.assign", dependencies=[Depends(require_admin)]
)
def assign(request: Request, org_id: RowId, member: str = Form(..., max_length=320)) -> Response:
    """Assign a member (by handle or email address) to an organisation."""
    engine = engine_of(request)
    org = next((o for o in org_store.list_orgs(engine) if o.id == org_id), None)
    if org is None:
        raise HTTPException(404, f"organisation {org_id}: not found")
    user = get_user_by_handle(engine, member) or get_user_by_email(engine, member)
    if user is None:
        raise HTTPException(422, f"member: no member {member[:80]!r} (give a handle or email)")
    org_store.assign_member(engine, org_id, user.id)
    request.app.state.caches.changed("paper")
    return RedirectResponse(org.url, status_code=303)
