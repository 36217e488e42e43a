"""Links to the site's own pages, built from the routes' names (`url_for` in templates).

Templates name the route they link to (`url_for('papers.trending')`), so a path changes in one
place, its route, and a link to a route that does not exist fails the page's test instead of
sending readers to a 404. Starlette's `url_path_for` walks every route of the app, raising and
catching an exception at each one that does not match (~130 here), for each link; this table
finds the one route by name and caches each built path.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, urlencode

from starlette.convertors import PathConvertor
from starlette.routing import BaseRoute, Mount, Route

from paperroute.models import PATH_SAFE


class NoSuchPage(LookupError):
    """A link names a route that is not there, or leaves out one of its path parameters."""


class PagePaths:
    """`url_for(name, **params)`: the path of the named page route.

    Parameters of the route's path fill it; the others become the query string (None and ""
    are left out, as a form would). A `{name:path}` parameter keeps its slashes and colons, so
    a paper's store id is written as it is (`/papers/doi:10.18653/v1/2024.acl-long.1/upvote`);
    links to a paper's own page use `paper_url` (models.paper_path), its one canonical form."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._routes: dict[str, Route | Mount] = {}
        for route in routes:
            if isinstance(route, Route | Mount) and route.name:
                self._routes.setdefault(route.name, route)  # the first wins, as in Starlette
        # A page links to the same few routes again and again: each path is built once.
        self._cached = lru_cache(maxsize=65536)(self._build)

    def __call__(self, name: str, /, **params: object) -> str:
        """The path (and query string) of route `name` with `params`."""
        return self._cached(name, **params)

    def _build(self, name: str, /, **params: object) -> str:
        route = self._routes.get(name)
        if route is None:
            raise NoSuchPage(f"no page route is named {name!r}")
        expected = route.param_convertors
        missing = expected.keys() - params.keys()
        if missing:
            raise NoSuchPage(f"route {name!r} needs {', '.join(sorted(missing))}")
        path = route.path_format
        for key, convertor in expected.items():
            safe = PATH_SAFE if isinstance(convertor, PathConvertor) else ""
            path = path.replace("{" + key + "}", quote(str(params[key]), safe=safe))
        query = {k: v for k, v in params.items() if k not in expected and v not in (None, "")}
        return f"{path}?{urlencode(query, safe='/', quote_via=quote)}" if query else path
