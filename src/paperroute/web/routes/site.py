"""Site-wide pages: the "Pages and feeds" help, the interactive API console, the demo banner."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperroute.web.deps import render
from paperroute.web.personal import DEMO_DISMISSED
from paperroute.web.presenters import safe_next

router = APIRouter(include_in_schema=False)
# Dismissing the banner changes nothing but this visitor's own banner, so a cross-site form can
# do no harm with it; asking for a CSRF token would give every anonymous page a session cookie,
# which takes it out of the anonymous page cache (web/cache.py).
nocsrf_router = APIRouter(include_in_schema=False)


def api_console_assets() -> Path:
    """Swagger UI's JavaScript and CSS, as the fastapi-offline wheel ships them (no CDN)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


@router.get("/help/pages", name="site.pages_help")
def pages_help(request: Request) -> Response:
    """Every HTML page and feed, with what it shows."""
    return render(request, "help/pages.html")


@router.get("/docs/console", name="site.api_console")
def api_console(request: Request) -> Response:
    """Swagger UI over /openapi.json: try the API from the browser."""
    return render(request, "api/console.html")


@nocsrf_router.post("/demo/dismiss", name="site.dismiss_demo", include_in_schema=False)
def dismiss_demo(request: Request, next: str = Form("/")) -> Response:
    """Hide the demo banner for this visitor (kept in their session)."""
    request.session[DEMO_DISMISSED] = True
    if "json" in request.headers.get("accept", ""):
        return JSONResponse({"dismissed": True})
    return RedirectResponse(safe_next(next), status_code=303)
