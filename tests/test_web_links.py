"""Templates link to pages by route name (issue 10): `url_for('papers.trending')`, so a path
lives in its route only, and a link to a route that is not there fails here, not in a reader's
browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paperroute.web.templating import TEMPLATES
from paperroute.web.urls import NoSuchPage
from webtools import client_for, doc, make_app, seed, sign_in

# An attribute whose value starts with a site path written out by hand (`href="/trending"`,
# `action="/papers/{{ paper.id }}/upvote"`), or a path string passed to a macro.
HAND_WRITTEN = re.compile(
    r"""(?:href|action|src|data-[\w-]+-url)="/"""  # an attribute
    r"""|(?<!startswith)(?<!startswith\()\(\s*'/[a-z]"""  # a macro's argument (not a comparison)
    r"""|\{\{ base(?:_url)? \}\}/"""  # an absolute URL in a feed or mail
)
NAMED = re.compile(r"""url_for\(\s*'([\w.]+)'""")
ROUTES = TEMPLATES.parent / "routes"
# A redirect in a route module to a path written out by hand: `RedirectResponse("/profile")`.
HAND_WRITTEN_REDIRECT = re.compile(r"""RedirectResponse\(\s*f?["']/""")
NAMED_IN_PYTHON = re.compile(r'(?:see_other|url_for)\(request, "([\w.]+)"')


def _templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.suffix in {".html", ".xml", ".md"})


def test_no_template_writes_a_site_path_by_hand():
    found = [
        f"{path.relative_to(TEMPLATES)}:{n}: {line.strip()[:90]}"
        for path in _templates()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_WRITTEN.search(line)
    ]
    assert found == []


def test_no_route_module_redirects_to_a_path_written_by_hand():
    modules = sorted(ROUTES.glob("*.py"))
    assert len(modules) > 10
    found = [
        f"{path.name}:{n}: {line.strip()[:90]}"
        for path in modules
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_WRITTEN_REDIRECT.search(line)
    ]
    assert found == []


def test_every_route_a_redirect_names_exists(settings, engine):
    url_for = make_app(settings, engine).state.url_for
    names = {n for path in ROUTES.glob("*.py") for n in NAMED_IN_PYTHON.findall(path.read_text())}
    assert len(names) > 10  # the scan found the redirects
    missing = []
    for name in sorted(names):
        try:
            url_for(name)
        except NoSuchPage as exc:
            if "no page route is named" in str(exc):
                missing.append(name)
    assert missing == []


def test_every_route_a_template_names_exists(settings, engine):
    url_for = make_app(settings, engine).state.templates.globals["url_for"]
    names = {name for path in _templates() for name in NAMED.findall(path.read_text())}
    assert len(names) > 60  # the scan found the links (a wrong pattern would find none)
    missing = []
    for name in sorted(names):
        try:
            url_for(name)
        except NoSuchPage as exc:
            if "no page route is named" in str(exc):
                missing.append(name)
    assert missing == []


def test_url_for_fills_the_path_escapes_it_and_puts_the_rest_in_the_query(settings, engine):
    url_for = make_app(settings, engine).state.templates.globals["url_for"]
    assert url_for("papers.trending") == "/trending"
    assert url_for("venues.show", venue="ACL Main", year=2024) == "/venues/ACL%20Main/2024"
    assert url_for("papers.author", name="Ada Lovelace") == "/authors/Ada%20Lovelace"
    assert url_for("papers.category", category="cs/AI") == "/categories/cs%2FAI"
    assert url_for("votes.toggle", paper_id="doi:10.18653/v1/x") == (
        "/papers/doi:10.18653/v1/x/upvote"
    )
    assert url_for("accounts.signin_form", next="/papers/1#discussion", empty="") == (
        "/signin?next=/papers/1%23discussion"
    )
    with pytest.raises(NoSuchPage, match="no page route is named 'papers.nowhere'"):
        url_for("papers.nowhere")
    with pytest.raises(NoSuchPage, match="needs collection_id"):
        url_for("collections.show")


def test_links_on_the_pages_lead_to_pages_that_answer(settings, engine):
    """Every same-site link of the daily page, a paper page and the profile answers without a
    404 or 405 (a link built for the wrong route would)."""
    seed(engine)
    client = client_for(make_app(settings, engine))
    sign_in(client, engine, "links@example.org")
    pages = ["/date/2025-02-03", "/papers/2502.00002", "/profile", "/for-you", "/feeds"]
    links = {
        href.split("#")[0]
        for page in pages
        for href in doc(client.get(page)).xpath("//a/@href")
        if href.startswith("/") and not href.startswith("/static")
    }
    assert len(links) > 25
    broken = {href: r.status_code for href in sorted(links) if (r := client.get(href)).status_code
              in (404, 405)}  # fmt: skip
    assert broken == {}
