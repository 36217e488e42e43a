"""/docs: the OpenAPI description rendered as a plain page (no Swagger UI: it needs a CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperroute.web.deps import render

router = APIRouter()


@router.get("/docs", include_in_schema=False, name="docs.index")
def docs(request: Request) -> Response:
    """Every API endpoint with its parameters, from the app's OpenAPI document."""
    spec = request.app.openapi()
    endpoints = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": op.get("parameters", []),
                    "body": "requestBody" in op,
                }
            )
    return render(request, "api/docs.html", spec=spec, endpoints=endpoints)
