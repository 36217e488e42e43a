"""Links to the site's own pages, built from the routes' names (`url_for` in templates).

Templates name the route they link to (`url_for('papers.trending')`), so a path changes in one
place, its route, and a link to a route that does not exist fails the page's test instead of
sending readers to a 404. Starlette's `url_path_for` walks every route of the app, raising and
catching an exception at each one that does not match (~130 here), for each link; this table
finds the one route by name and caches each built path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from urllib.parse import quote, urlencode

from jinja2 import Environment
from jinja2.ext import Extension
from jinja2.lexer import TOKEN_STRING, Token, TokenStream
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
        self._fixed = {n: r.path_format for n, r in self._routes.items() if not r.param_convertors}

    def __call__(self, name: str, /, **params: object) -> str:
        """The path (and query string) of route `name` with `params`."""
        return self._cached(name, **params)

    def install(self, env: Environment) -> None:
        """Make this `url_for` the templates' (before the first template loads)."""
        env.globals["url_for"] = self
        env.fixed_links.update(self._fixed)  # type: ignore[attr-defined]  # FixedLinks reads it

    def _build(self, name: str, /, **params: object) -> str:
        route = self._routes.get(name)
        if route is None:
            raise NoSuchPage(f"no page route is named {name!r}")
        expected = route.param_convertors
        if len(params) == 1:  # most links: one path parameter, or one query one (search)
            ((key, value),) = params.items()
            if key in expected and len(expected) == 1:
                return route.path_format.replace("{" + key + "}", _segment(expected[key], value))
            if not expected and value not in (None, ""):
                return f"{route.path_format}?{key}={quote(str(value), safe='/')}"
        missing = expected.keys() - params.keys()
        if missing:
            raise NoSuchPage(f"route {name!r} needs {', '.join(sorted(missing))}")
        path = route.path_format
        for key, convertor in expected.items():
            path = path.replace("{" + key + "}", _segment(convertor, params[key]))
        query = {k: v for k, v in params.items() if k not in expected and v not in (None, "")}
        return f"{path}?{urlencode(query, safe='/', quote_via=quote)}" if query else path


def _segment(convertor: object, value: object) -> str:
    """A path parameter, escaped; a `{name:path}` one keeps its slashes and colons."""
    text = str(value)
    if _PLAIN.fullmatch(text):  # ids and numbers, the most of them: nothing to escape
        return text
    return quote(text, safe=PATH_SAFE if isinstance(convertor, PathConvertor) else "")


_PLAIN = re.compile(r"[A-Za-z0-9._-]*")


class FixedLinks(Extension):
    """Writes `url_for('papers.trending')`, a link without parameters, into the compiled template
    as its path, as if typed there: a call from a template costs ~2 us (Jinja inspects the
    callable and escapes the result each time), and a page's header alone makes 20 such links.
    Links with parameters stay calls."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.extend(fixed_links={})

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        """The template's tokens, each `url_for ( 'name' )` whose route has no parameters
        replaced by one string token: its path."""
        fixed: dict[str, str] = self.environment.fixed_links  # type: ignore[attr-defined]
        tokens = list(stream)
        n = 0
        while n < len(tokens):
            path = _fixed_link(tokens[n : n + 4], fixed)
            if path is not None:
                yield Token(tokens[n].lineno, TOKEN_STRING, path)
                n += 4
            else:
                yield tokens[n]
                n += 1


def _fixed_link(call: list[Token], fixed: dict[str, str]) -> str | None:
    """The path of `url_for ( 'name' )` when these four tokens are that call, for a route
    without parameters; None otherwise."""
    shape = [t.type for t in call] == ["name", "lparen", "string", "rparen"]
    if shape and call[0].value == "url_for":
        return fixed.get(call[2].value)
    return None
