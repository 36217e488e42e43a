"""/docs: the JSON API's reference, grouped by area, from the app's own OpenAPI document.

Written as a page of our own (not Swagger UI) so it reads on a phone and under the strict CSP;
/docs/console (web/routes/site.py) is the interactive Swagger UI. Every example is a curl
command built from the OpenAPI examples, which name real papers and days of the demo corpus;
tests/test_web_docs.py runs each one.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from paperroute.web.deps import render

router = APIRouter()
_TICKS = re.compile(r"`([^`]+)`")


def prose(text: str) -> Markup:
    """Docstring text as HTML: `code` spans become <code>, nothing else is markup."""
    return Markup(_TICKS.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def _example_value(param: dict):
    examples = param.get("schema", {}).get("examples") or param.get("examples")
    return examples[0] if isinstance(examples, list) and examples else None


def example_command(base: str, method: str, path: str, op: dict, spec: dict) -> str | None:
    """A curl command that works on the demo corpus; None when a parameter has no example."""
    query: dict = {}
    for param in op.get("parameters", []):
        value = _example_value(param)
        if param["in"] == "path":
            if value is None:
                return None
            path = path.replace("{" + param["name"] + "}", str(value))
        elif param["in"] == "query" and value is not None and (param.get("required") or not query):
            query[param["name"]] = (
                value  # one optional filter: date, week and month exclude each other
            )
        elif param.get("required"):
            return None
    parts = ["curl", "-s"]
    if method != "get":
        parts += ["-X", method.upper()]
    if op.get("security") or "401" in op.get("responses", {}):
        parts += ["-H", "'Authorization: Bearer $TOKEN'"]
    body = _example_body(op, spec)
    if body is _NO_EXAMPLE:
        return None
    if body is not None:
        parts += ["-H", "'Content-Type: application/json'", "-d", f"'{json.dumps(body)}'"]
    url = base + path + ("?" + urlencode(query) if query else "")
    return " ".join([*parts, f"'{url}'"])


_NO_EXAMPLE: dict = {}


def _example_body(op: dict, spec: dict) -> dict | None:
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if not schema:
        return None
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    body = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("examples"):
            body[name] = prop["examples"][0]
    if set(schema.get("required", ())) - set(body):
        return _NO_EXAMPLE  # a required field has no demo value: no runnable example
    return body


def _fields(param: dict) -> dict:
    schema = param.get("schema", {})
    kinds = [
        s.get("type") for s in schema.get("anyOf", [schema]) if s.get("type") not in (None, "null")
    ]
    kind = " or ".join(kinds) or ("one of " + ", ".join(schema["enum"]) if "enum" in schema else "")
    if "enum" in schema:
        kind = "one of " + ", ".join(map(str, schema["enum"]))
    default = schema.get("default")
    return {
        "name": param["name"],
        "where": param["in"],
        "kind": kind,
        "required": param.get("required", False),
        "about": param.get("description") or "",
        "default": None if default in (None, "") else default,
        "example": _example_value(param),
    }


def api_sections(spec: dict, base: str) -> list[dict]:
    """The API's operations grouped under the OpenAPI tags, in the tags' order."""
    sections = {t["name"]: {**t, "operations": []} for t in spec.get("tags", [])}
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["Other"])[0]
            section = sections.setdefault(tag, {"name": tag, "description": "", "operations": []})
            section["operations"].append(
                {
                    "method": method.upper(),
                    "path": path,
                    "anchor": re.sub(r"[^a-z0-9]+", "-", f"{method} {path}".lower()).strip("-"),
                    "summary": op.get("summary", ""),
                    "about": prose(op.get("description", "")),
                    "parameters": [_fields(p) for p in op.get("parameters", [])],
                    "needs_token": "401" in op.get("responses", {}),
                    "example": example_command(base, method, path, op, spec),
                }
            )
    return [s for s in sections.values() if s["operations"]]


@router.get("/docs", include_in_schema=False, name="docs.index")
def docs(request: Request) -> Response:
    """The JSON API's endpoints by area, each with its parameters and a working example."""
    spec = request.app.openapi()
    base = request.app.state.templates.globals["base_url"]
    return render(request, "api/docs.html", spec=spec, sections=api_sections(spec, base))
