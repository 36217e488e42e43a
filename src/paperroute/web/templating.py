"""The Jinja2 environment, built once per app: templates, filters and globals."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from paperroute.models import paper_path, web_url
from paperroute.store.orgs import slugify
from paperroute.store.papers import author_key
from paperroute.web.cache import TTLCache
from paperroute.web.mathtext import excerpt_html, plain_snippet, render_text
from paperroute.web.personal import CSRF_MARK as _CSRF_MARK
from paperroute.web.personal import not_interested_marker, save_marker, vote_marker
from paperroute.web.urls import FixedLinks

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


# How a page names the source a value came from (provenance labels).
SOURCE_NAMES = {
    "semantic_scholar": "Semantic Scholar",
    "crossref": "Crossref",
    "openalex": "OpenAlex",
    "acl_anthology": "ACL Anthology",
    "pubmed": "PubMed",
    "pwc": "Papers with Code",
    "openreview": "OpenReview",
    "hf_daily": "Hugging Face",
}


def source_name(source: str | None) -> str:
    """A source's name as readers know it ("semantic_scholar" -> "Semantic Scholar")."""
    return SOURCE_NAMES.get(source or "", (source or "unknown source").replace("_", " "))


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


@lru_cache(maxsize=100000)
@lru_cache(maxsize=65536)
def author_url(name: str) -> str:
    """The author page of a name (names repeat across pages, so computed once)."""
    return "/authors/" + quote(name, safe="")


def org_url(name: str) -> str:
    """The organisation page of a source's organisation name (store/orgs.slugify)."""
    return "/orgs/" + quote(slugify(name), safe="")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """ "1 paper", "2 papers": the count with its noun in the right number."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def _fmt_date(value: date | datetime | None, fmt: str = "%d %b %Y") -> str:
    return value.strftime(fmt) if value else ""


class CardRenderer:
    """Paper cards rendered once and reused: a list page is mostly cards, and a card only
    changes with its paper's numbers, its rank, the reader's vote and whether anyone is signed in.
    Its vote counts are slots filled as the page is served (web/livevotes.py), so a vote does not
    make it stale. The CSRF token (per session) is put in after the cached HTML is taken; a
    signed-in card's Save menu is a marker that each request fills with its reader's collections
    (web/personal)."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.cache = TTLCache(ttl=600, size=20000)

    def __call__(self, paper, rank=None, score=None, voted=False, csrf: str | None = None):
        """The card's HTML; `csrf` is the session's token when someone is signed in."""
        key = (
            paper.id, rank, score.explain() if score else None, voted, csrf is not None,
            paper.saves, paper.featured, paper.title,
            paper.github_stars, paper.code_url, paper.announced, len(paper.abstract),
            paper.organization, (paper.submission.handle, paper.submission.name)
            if paper.submission else None,
            paper.num_comments,
        )  # fmt: skip
        html = self.cache.get(key)
        if html is None:
            html = self.env.get_template("papers/_card.html").render(
                paper=paper,
                rank=rank,
                score=score,
                voted={paper.id} if voted else set(),
                user=csrf is not None,
                csrf_token=lambda: _CSRF_MARK,
            )
            self.cache.put(key, html)
        return Markup(html.replace(_CSRF_MARK, csrf) if csrf else html)


class _Environment(Environment):
    """Templates see the globals as one plain dict made when each is loaded, so set every global
    before the first template loads (as Jinja asks). Its default, a ChainMap of the template's
    and the environment's globals, is walked key by key into every render's and include's
    context: ~10 us a render, and a paper page is six (its page and includes)."""

    def make_globals(self, d):
        return {**self.globals, **(d or {})}


def make_environment(site_name: str, base_url: str) -> Environment:
    """Autoescaping environment with the site's filters; templates are compiled once and cached."""
    env = _Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml"]),
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[FixedLinks],  # web/urls.py: url_for('name') compiled to its path
    )
    version = _static_version()
    env.filters["math"] = render_text
    env.filters["snippet"] = plain_snippet
    env.filters["excerpt"] = excerpt_html
    env.filters["datefmt"] = _fmt_date
    env.filters["author_url"] = author_url
    env.filters["org_url"] = org_url
    env.filters["author_key"] = author_key
    env.filters["plural"] = plural
    env.filters["web_url"] = web_url  # rows stored before links were checked at ingest
    env.globals["save_marker"] = save_marker
    env.filters["source_name"] = source_name
    env.globals["paper_url"] = paper_path  # every link to a paper page (models.paper_path)
    env.globals["not_interested_marker"] = not_interested_marker
    env.globals["vote_count"] = vote_marker  # a live vote number (web/livevotes.py)
    env.globals["paper_card"] = CardRenderer(env)
    env.globals["site_name"] = site_name
    env.globals["base_url"] = base_url.rstrip("/")
    env.globals["static"] = lambda path: f"/static/{path}?v={version}"
    return env
