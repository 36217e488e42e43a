"""Collections pages: your named lists of saved papers, public ones from everyone."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperroute.models import paper_path
from paperroute.params import RowId
from paperroute.store import collections as store
from paperroute.store.listings import papers_by_ids
from paperroute.store.votes import voted_ids
from paperroute.web.deps import (
    current_user,
    engine_of,
    json_response,
    render,
    require_user,
    wants_json,
)
from paperroute.web.presenters import back_to, paper_summary, see_other, url_for

router = APIRouter()


@router.get("/collections", name="collections.index")
def index(request: Request) -> Response:
    """Your collections and everyone's public ones."""
    engine = engine_of(request)
    user = current_user(request)
    mine = store.list_collections(engine, user.id) if user else []
    public = [
        c
        for c in store.list_collections(engine, public_only=True)
        if not user or c.user_id != user.id
    ]
    if wants_json(request):
        return json_response(
            {"mine": [_summary(c) for c in mine], "public": [_summary(c) for c in public]}
        )
    return render(request, "collections/index.html", mine=mine, public=public)


def _summary(c: store.Collection) -> dict:
    return {"id": c.id, "name": c.name, "public": c.is_public, "size": c.size,
            "description": c.description, "url": f"/collections/{c.id}"}  # fmt: skip


def visible_collection(request: Request, collection_id: int) -> store.Collection:
    """A collection the viewer may see (public, or their own); 404 otherwise."""
    coll = store.get_collection(engine_of(request), collection_id)
    user = current_user(request)
    if coll is None or not (coll.is_public or (user and user.id == coll.user_id)):
        raise HTTPException(404, f"collection {collection_id}: not found")
    return coll


@router.get("/collections/{collection_id}", name="collections.show")
def show(request: Request, collection_id: RowId) -> Response:
    """One collection's papers."""
    engine = engine_of(request)
    coll = visible_collection(request, collection_id)
    papers = papers_by_ids(engine, store.collection_paper_ids(engine, coll.id))
    if wants_json(request):
        return json_response({**_summary(coll), "papers": [paper_summary(p) for p in papers]})
    user = current_user(request)
    return render(
        request,
        "collections/show.html",
        collection=coll,
        papers=papers,
        voted=voted_ids(engine, user.id, [p.id for p in papers]) if user else set(),
        owner=bool(user and user.id == coll.user_id),
    )


@router.post("/collections", name="collections.create")
def create(
    request: Request,
    name: str = Form(...),
    is_public: bool = Form(False),
    description: str = Form(""),
    paper_id: str = Form(""),
) -> Response:
    """Create a collection (and save a paper into it when one is given)."""
    user = require_user(request)
    engine = engine_of(request)
    try:
        coll = store.create_collection(
            engine, user.id, name, is_public=is_public, description=description
        )
        if paper_id:
            store.add_paper(engine, user.id, coll.id, paper_id)
    except store.CollectionError as exc:
        raise HTTPException(422, str(exc)) from None
    request.app.state.caches.changed("collection")
    if paper_id:
        return RedirectResponse(paper_path(paper_id), status_code=303)
    return see_other(request, "collections.show", collection_id=coll.id)


def _change(request: Request, collection_id: int, paper_id: str, add: bool) -> Response:
    user = require_user(request)
    change = store.add_paper if add else store.remove_paper
    try:
        change(engine_of(request), user.id, collection_id, paper_id)
    except store.CollectionError as exc:
        raise HTTPException(404, str(exc)) from None
    request.app.state.caches.changed("collection")
    shown = url_for(request, "collections.show", collection_id=collection_id)
    return RedirectResponse(back_to(request, shown), status_code=303)


@router.post("/collections/{collection_id}/add", name="collections.add")
def add(request: Request, collection_id: RowId, paper_id: str = Form(...)) -> Response:
    """Save a paper into your collection."""
    return _change(request, collection_id, paper_id, add=True)


@router.post("/collections/{collection_id}/remove", name="collections.remove")
def remove(request: Request, collection_id: RowId, paper_id: str = Form(...)) -> Response:
    """Take a paper out of your collection."""
    return _change(request, collection_id, paper_id, add=False)


@router.post("/collections/{collection_id}/visibility", name="collections.visibility")
def visibility(request: Request, collection_id: RowId, is_public: bool = Form(False)) -> Response:
    """Make your collection public or private."""
    user = require_user(request)
    try:
        store.update_collection(engine_of(request), user.id, collection_id, is_public=is_public)
    except store.CollectionError as exc:
        raise HTTPException(404, str(exc)) from None
    request.app.state.caches.changed("collection")
    return see_other(request, "collections.show", collection_id=collection_id)


@router.post("/collections/{collection_id}/delete", name="collections.delete")
def delete(request: Request, collection_id: RowId) -> Response:
    """Delete your collection."""
    user = require_user(request)
    try:
        store.delete_collection(engine_of(request), user.id, collection_id)
    except store.CollectionError as exc:
        raise HTTPException(404, str(exc)) from None
    request.app.state.caches.changed("collection")
    return see_other(request, "collections.index")
