"""For-you pages: personal recommendations with reasons, "not interested", cold-start picks,
library import/export (BibTeX, RIS, CSL-JSON) and whole-account export/import."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Annotated, BinaryIO

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperroute.jobs.imports import UploadTooLarge, store_upload
from paperroute.models import Paper
from paperroute.params import OptionalRowId, RowId
from paperroute.ranking.foryou import ForYou, recommendation_json
from paperroute.ranking.recommend import WINDOWS
from paperroute.references.export import MEDIA_TYPES, export_papers
from paperroute.references.formats import MAX_BYTES
from paperroute.store import account as account_store
from paperroute.store import collections as coll
from paperroute.store import imports, readers
from paperroute.store.listings import papers_by_ids
from paperroute.store.papers import author_key
from paperroute.store.votes import UnknownPaper, voted_ids
from paperroute.web.cache import FOR_YOU_KEY
from paperroute.web.deps import (
    accepts_json,
    current_user,
    demo_banner,
    engine_of,
    json_response,
    render,
    require_user,
    search_service,
    wants_json,
)
from paperroute.web.presenters import back_to, paper_summary, see_other, url_for
from paperroute.web.security import csrf_token

router = APIRouter()

WINDOW_LABELS = {"day": "1 day", "3days": "3 days", "week": "week", "month": "month"}
STARTER_CATEGORIES = ["cs.CV", "cs.CL", "cs.LG", "cs.AI", "cs.RO", "cs.IR", "cs.CR", "cs.SE",
                      "cs.HC", "cs.GR", "cs.SD", "stat.ML", "eess.IV", "eess.AS"]  # fmt: skip


def _window(value: str) -> str:
    if value not in WINDOWS:
        raise HTTPException(422, f"window: must be one of {', '.join(WINDOWS)}")
    return value


FOR_YOU_KEPT_S = 300.0  # a reader's ranking, unless a write drops it sooner (web/cache.py)


def reader_for_you(request: Request, user_id: int, window: str, tag: str | None) -> ForYou:
    """The reader's For-you ranking, kept in the data cache: ranking costs ~30 ms of CPU, and
    32 readers reloading their page queued behind each other (bench/web.py: p95 1.1 s). Any
    local write of the reader's library, a new paper, and the reader's own vote drop it."""
    key = (FOR_YOU_KEY, user_id, window, tag)
    return request.app.state.data_cache.remember(
        key,
        lambda: request.app.state.services.recommender().for_reader(user_id, window, tag, limit=30),
        ttl=FOR_YOU_KEPT_S,
    )


@router.get("/for-you", name="foryou.index")
def index(request: Request, window: str = "week", tag: str = "") -> Response:
    """Recommendations for the signed-in reader, with the papers they are closest to."""
    user = current_user(request)
    if user is None:
        return see_other(request, "accounts.signin_form", next=url_for(request, "foryou.index"))
    window, json_wanted = _window(window), wants_json(request)
    # The rendered page is kept too (30 cards: ~15 ms of CPU), under the ranking's key prefix so
    # that whatever drops the ranking drops the page; vote counts on it are filled in as served.
    page_key = (FOR_YOU_KEY, user.id, window, tag, "page", csrf_token(request),
                demo_banner(request) is None)  # fmt: skip
    kept_page = None if json_wanted else request.app.state.data_cache.get(page_key)
    if kept_page is not None:
        return HTMLResponse(kept_page)
    engine = engine_of(request)
    result = reader_for_you(request, user.id, window, tag or None)
    ids = [r.paper_id for r in result.items]
    near = [pid for r in result.items for pid, _ in r.reason.closest if ":" not in pid]
    papers = {p.id: p for p in papers_by_ids(engine, ids + near, include_hidden=True)}
    items = [(papers[r.paper_id], r) for r in result.items if r.paper_id in papers]
    people = {
        p.id: [a for a in p.author_names if author_key(a) in r.reason.authors] for p, r in items
    }
    if json_wanted:
        return json_response(
            {
                "window": result.window,
                "tag": result.tag,
                "cold_start": result.cold_start,
                "message": result.message,
                "took_ms": round(result.took_ms, 1),
                "items": [{**paper_summary(p), "reason": recommendation_json(r)} for p, r in items],
            }
        )
    lib = readers.load_reader_library(engine, user.id)
    kept = {pid for ids in lib.tags.values() for pid in ids}
    response = render(
        request,
        "foryou/index.html",
        result=result,
        items=items,
        reasons={p.id: reason_groups(r, kept, papers) for p, r in items},
        people=people,
        windows=WINDOW_LABELS,
        window=window,
        tag=tag,
        tags=coll.list_collections(engine, user.id),
        onboarding=lib.onboarding,
        categories=STARTER_CATEGORIES,
        rejected=papers_by_ids(engine, lib.negatives[:20], include_hidden=True),
        voted=voted_ids(engine, user.id, ids),
    )
    request.app.state.data_cache.put(page_key, response.body, ttl=FOR_YOU_KEPT_S)
    return response


def reason_groups(rec, kept: set[str], papers: dict[str, Paper]) -> list[tuple[str, list]]:
    """A recommendation's closest papers grouped by what the reader did with them: ("saved" |
    "upvoted" | "picked", [(link or None, label, similarity)]), in the reason's order."""
    groups: dict[str, list] = {}
    for pid, sim in rec.reason.closest:
        kind, _, value = pid.partition(":") if ":" in pid else ("", "", pid)
        if kind == "topic":
            groups.setdefault("picked", []).append((None, f"topic “{value}”", sim))
        elif kind == "category":
            groups.setdefault("picked", []).append(
                (f"/categories/{value}", f"category {value}", sim)
            )
        else:
            title = papers[pid].title if pid in papers else pid
            verb = "saved" if pid in kept else "upvoted"
            groups.setdefault(verb, []).append((f"/papers/{pid}", title, sim))
    return list(groups.items())


@router.post("/for-you/not-interested", name="foryou.not_interested")
def not_interested(request: Request, paper_id: str = Form(...)) -> Response:
    """Mark a paper "not interested": it leaves the list and similar papers move down."""
    user = require_user(request)
    try:
        readers.mark_not_interested(engine_of(request), user.id, paper_id)
    except UnknownPaper:
        raise HTTPException(404, f"paper {paper_id}: not found") from None
    request.app.state.caches.changed("reader", user.id)
    if accepts_json(request):
        return json_response({"paper_id": paper_id, "not_interested": True})
    return RedirectResponse(back_to(request, url_for(request, "foryou.index")), status_code=303)


@router.post("/for-you/not-interested/undo", name="foryou.undo_not_interested")
def undo_not_interested(request: Request, paper_id: str = Form(...)) -> Response:
    """Take back "not interested"."""
    user = require_user(request)
    readers.unmark_not_interested(engine_of(request), user.id, paper_id)
    request.app.state.caches.changed("reader", user.id)
    if accepts_json(request):
        return json_response({"paper_id": paper_id, "not_interested": False})
    return RedirectResponse(back_to(request, url_for(request, "foryou.index")), status_code=303)


@router.post("/for-you/start", name="foryou.start")
def start(
    request: Request,
    categories: Annotated[list[str] | None, Form()] = None,
    topics: str = Form(""),
    arxiv_ids: str = Form(""),
) -> Response:
    """Cold start: save picked categories and topics; pasted arXiv ids go to "Starter"."""
    user = require_user(request)
    engine = engine_of(request)
    words = [t.strip() for t in topics.replace("\n", ",").split(",") if t.strip()]
    readers.set_onboarding(engine, user.id, {"categories": categories or [], "topics": words})
    if arxiv_ids.strip():  # fetching unknown ones from arXiv takes seconds: in the background
        pasted = io.BytesIO(arxiv_ids.encode())
        return _start_import(request, "ids", pasted, "pasted arXiv ids", "Starter")
    return see_other(request, "foryou.index")


@router.post("/for-you/import", name="foryou.import")
def import_file(
    request: Request,
    library: Annotated[UploadFile, File()],
    collection: Annotated[str, Form()] = "Imported",
) -> Response:
    """Start importing a BibTeX / RIS / CSL-JSON file into a collection; answers at once."""
    name = collection.strip()[:255] or "Imported"
    return _start_import(request, "library", library.file, library.filename or "", name)


def _start_import(
    request: Request, kind: str, data: BinaryIO, filename: str, collection: str | None
) -> Response:
    """Store the upload, queue its import and send the reader to the page that follows it."""
    user = require_user(request)
    state = request.app.state
    try:
        path = store_upload(state.settings, data, MAX_BYTES)
    except UploadTooLarge as exc:
        raise HTTPException(413, f"{kind} file: {exc}; split it or export less") from None
    import_id = imports.create_import(engine_of(request), user.id, kind, filename, path, collection)
    state.imports.submit(import_id)
    url = url_for(request, "foryou.import_status", import_id=import_id)
    if wants_json(request):
        return json_response({"id": import_id, "status": "queued", "url": url}, status=202)
    return RedirectResponse(url, status_code=303)


@router.get("/for-you/imports/{import_id}", name="foryou.import_status")
def import_status(request: Request, import_id: RowId) -> Response:
    """How far an import got; once done, what matched and each line that did not."""
    user = require_user(request)
    job = imports.get_import(engine_of(request), import_id)
    if job is None or job.user_id != user.id:
        raise HTTPException(404, f"import {import_id}: not found")
    if wants_json(request):
        return json_response(
            {
                "id": job.id,
                "kind": job.kind,
                "filename": job.filename,
                "status": job.status,
                "stage": job.stage,
                "error": job.error,
                "report": job.report,
            }
        )
    response = render(request, "foryou/import_status.html", job=job)
    response.headers["Link"] = (
        f'<{request.url.path}?format=json>; rel="alternate"; type="application/json"'
    )
    return response


def _export_ids(request: Request, collection: int | None, ids: str, q: str) -> tuple[list, str]:
    engine = engine_of(request)
    if collection is not None:
        found = coll.get_collection(engine, collection)
        user = current_user(request)
        if found is None or not (found.is_public or (user and user.id == found.user_id)):
            raise HTTPException(404, f"collection {collection}: not found")
        return coll.collection_paper_ids(engine, collection), coll.slugify(found.name)
    if q.strip():
        search = search_service(request)
        if search is None:
            raise HTTPException(503, "search is not available")
        return [h.id for h in search.search(q, limit=100).hits], "search"
    return [i.strip() for i in ids.split(",") if i.strip()][:1000], "papers"


@router.get("/library/export", name="foryou.export")
def export(
    request: Request,
    format: str = "bibtex",  # noqa: A002 - the query parameter users type
    collection: OptionalRowId = None,
    ids: str = "",
    q: str = "",
) -> Response:
    """Download a collection, a search result or a list of ids as BibTeX, RIS or CSL-JSON."""
    if format not in MEDIA_TYPES:
        raise HTTPException(422, f"format: must be one of {', '.join(MEDIA_TYPES)}")
    paper_ids, name = _export_ids(request, collection, ids, q)
    papers = papers_by_ids(engine_of(request), paper_ids)
    media, ext = MEDIA_TYPES[format]
    return Response(
        export_papers(papers, format),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.{ext}"'},
    )


@router.get("/account/export", name="foryou.account_export")
def account_export(request: Request) -> Response:
    """Download everything you made here as one JSON file."""
    user = require_user(request)
    data = account_store.export_account(engine_of(request), user.id)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="paperroute-account-{stamp}.json"'},
    )


@router.post("/account/import", name="foryou.account_import")
def account_import(request: Request, account: Annotated[UploadFile, File()]) -> Response:
    """Start merging an account export into your account (importing it twice adds nothing)."""
    return _start_import(request, "account", account.file, account.filename or "", None)
