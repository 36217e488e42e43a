"""Every GET route, each of its parameters in turn given hostile values, signed out and signed in:
every answer is 2xx/3xx/4xx, with no traceback and no injected header (issue 15).

Routes come from the app itself (path and query parameters included), so a new route is crawled
without editing this file. The store is the search fixture plus the seeded web papers, with the
real search service, so search, feeds and listings run for real. To stay near half a minute per
backend, each (route, parameter, value) is sent once, signed out and signed in by turns, and
the parameters every route is given without declaring them get only a few values.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import NamedTuple
from urllib.parse import quote

from fastapi import routing

# Decoded values, percent-encoded into the URL.
HOSTILE = [
    "99999999999999999999",
    "-1",
    "1e400",
    "\r\nSet-Cookie: pwned=1",
    "\x00",
    "x" * 10_240,
    "\u2028",
    "\uffff",
    "\u202e\u200fevil",
    "../../../../etc/passwd",
    "<script>'\"{{7*7}}",
    "",
]
# Written into the URL as they are: bytes an attacker types past the client's own encoding.
RAW = ["%00", "%0d%0aSet-Cookie:%20pwned=1", "%FF%FE", "%ED%A0%80", "..%2F..%2F"]
VALUES = [quote(v, safe="") for v in HOSTILE] + RAW
# Sent to every route where they are not declared, since a page may read them from
# request.query_params itself: `format` selects every page's JSON twin, `p` pages listings.
UNDECLARED = {
    "format": ["json", quote("x" * 10_240), "%00", "%FF%FE"],
    "p": ["99999999999999999999", "-1", "%00"],
}
# The search form's fields, read by search_params.
EXTRA_QUERY = {"/search": ["q", "from", "to", "cat", "has_code", "min_upvotes", "sort"]}
# Query values the hostile one is added to, so the route does its real work around it.
BASE_QUERY = {"/search": {"q": "diffusion"}, "/api/papers/search": {"q": "diffusion"}}
PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _query_names(dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class Route(NamedTuple):
    """A GET route's path template and the names of its parameters."""

    template: str
    path_names: list[str]
    query_names: list[str]


def get_routes(app) -> list[Route]:
    """Every GET route, with its path parameters and its declared query parameters."""
    found = [Route("/static/{path}", ["path"], [])]  # the static files mount
    for rc in routing.iter_route_contexts(app.routes):
        if "GET" not in (rc.methods or ()):
            continue
        dependant = getattr(rc, "dependant", None)
        query = _query_names(dependant) if dependant else set()
        query |= set(EXTRA_QUERY.get(rc.path, ()))
        found.append(Route(rc.path, PATH_PARAM.findall(rc.path), sorted(query)))
    return found


def _url(template: str, values: dict[str, str], hostile: str = "", raw: str = "") -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        return raw if name == hostile else quote(values[name], safe="")

    path = PATH_PARAM.sub(fill, template)
    query = {k: quote(v, safe="") for k, v in BASE_QUERY.get(template, {}).items()}
    if hostile and hostile not in PATH_PARAM.findall(template):
        query[hostile] = raw
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def hostile_urls(routes: list[Route], values: dict[str, str]) -> list[str]:
    """Each route with one parameter at a time set to each hostile value, the rest real."""
    urls = []
    for route in routes:
        for name in route.path_names + route.query_names:
            urls += [_url(route.template, values, name, raw) for raw in VALUES]
            if name != "format":  # the JSON twin too
                url = _url(route.template, values, name, VALUES[0])
                urls.append(url + ("&" if "?" in url else "?") + "format=json")
        for name, few in UNDECLARED.items():
            if name not in route.query_names:
                urls += [_url(route.template, values, name, raw) for raw in few]
    return urls


def _problem(response) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:200]!r}"
    body = response.text
    if "Traceback (most recent call last)" in body or 'File "/' in body:
        return f"traceback in the body: {body[:200]!r}"
    for name, value in response.headers.multi_items():
        if "\r" in value or "\n" in value or "pwned" in value:
            return f"injected header {name}: {value[:80]!r}"
    return None


def test_every_get_route_survives_hostile_parameters(site, surface_counts):
    routes = get_routes(site.app)
    urls = hostile_urls(routes, site.values)
    clients = [("signed out", site.anonymous), ("signed in", site.member)]
    plain = [
        (who, client, _url(r.template, site.values)) for who, client in clients for r in routes
    ]
    turns = [(*clients[i % 2], url) for i, url in enumerate(urls)]
    problems, statuses, started = [], Counter(), time.monotonic()
    for who, client, url in plain + turns:
        response = client.get(url)
        statuses[f"{response.status_code // 100}xx"] += 1
        problem = _problem(response)
        if problem:
            problems.append(f"{who} GET {url[:160]} -> {problem}")
    took = time.monotonic() - started
    surface_counts[f"crawler ({site.app.state.engine.dialect.name})"] = (
        f"{len(routes)} GET routes, {len(plain) + len(turns)} requests in {took:.0f} s, "
        + ", ".join(f"{k}: {n}" for k, n in sorted(statuses.items()))
    )
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems[:40])
    assert len(routes) > 40 and statuses["2xx"] > 300  # the crawl reached real pages
