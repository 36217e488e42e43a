"""Shared helpers for the web and API tests: a seeded store, an in-process client, sign-in.

The papers are small real-looking records written through the real upsert; users sign in through
the real magic-link routes (the token is taken from the store-issuing function's return value only
where a test is not about email; the email flow itself is tested with a real SMTP server).
"""

from __future__ import annotations

import re
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from datetime import date

import uvicorn
from fastapi.testclient import TestClient
from lxml import html as lxml_html

from factories import record
from paperroute.app import create_app
from paperroute.models import Author
from paperroute.store import auth, imports
from paperroute.store import collections as coll_store
from paperroute.store.comments import add_comment
from paperroute.store.orgs import create_org
from paperroute.store.papers import upsert_records
from paperroute.store.users import add_user
from paperroute.store.votes import set_vote
from paperroute.web.feedlinks import saved_search_feed_token

DAY1, DAY2, DAY3 = date(2025, 2, 3), date(2025, 2, 4), date(2025, 2, 5)
SCRIPT_ID = "2502.00666"
MATH_ID = "2502.00777"


def seed(engine) -> None:
    """Nine papers over three days, one with a script in its text, one with LaTeX."""
    recs = [
        record("2502.00001", DAY1, 5),
        record("2502.00002", DAY1, 50, code_url="https://github.com/a/b", github_stars=321),
        record("2502.00003", DAY2, 7, categories=["cs.CV"], primary_category="cs.CV"),
        record("2502.00004", DAY2, 70, authors=[Author("Grace Hopper")]),
        record(
            SCRIPT_ID,
            DAY2,
            3,
            title="Evil <script>window.__pwned=1</script> title",
            abstract="Abstract <script>window.__pwned=1</script> "
            '<img src=x onerror="window.__pwned=2">',
        ),
        record(
            MATH_ID,
            DAY3,
            9,
            title="Bounds on $\\alpha^2$ for transformers",
            abstract="We prove $x^2 + y^2 = z^2$ and $\\text{<script>alert(1)</script>}$ holds.",
            project_url="https://example.org/project",
            doi="10.1000/xyz123",
        ),
        record("2502.00005", DAY3, 90),
        record("2502.00006", DAY3, 1, categories=["cs.CL"], primary_category="cs.CL"),
        record("2502.00007", DAY3, 30, submitter="hf-user"),
    ]
    upsert_records(engine, recs)


def make_app(settings, engine, **options):
    """A fresh app on the test database, with the production cache settings (pages and data
    shared for `create_app`'s default TTL), so tests see what readers see: a local write must
    drop what it makes stale. Tests that count a render's queries pass `page_cache_ttl=0`.

    Without `search=` the app runs without the search service (no model load); the search tests
    pass the real service.
    """
    options.setdefault("enable_search", "search" in options)
    return create_app(settings, engine=engine, **options)


def client_for(app) -> TestClient:
    """In-process HTTP client that asks for HTML like a browser does."""
    return TestClient(app, headers={"accept": "text/html"}, follow_redirects=False)


def doc(response):
    """Parse a response as HTML for CSS-selector assertions."""
    return lxml_html.fromstring(response.text)


def texts(response, selector: str) -> list[str]:
    """Text of every element matching a CSS selector."""
    return [" ".join(e.text_content().split()) for e in doc(response).cssselect(selector)]


def csrf_from(response) -> str:
    """The CSRF token of the first form on a page."""
    found = doc(response).cssselect("input[name=csrf_token]")
    assert found, "page has no CSRF field"
    return found[0].get("value")


def sign_in(client: TestClient, engine, email: str, *, admin: bool = False):
    """Sign in through the real verify route with a freshly issued magic-link token."""
    user = add_user(engine, email, is_admin=admin)
    token = auth.create_login_token(engine, email)
    page = client.get(f"/signin/verify?token={token}")
    response = client.post(
        "/signin/verify", data={"token": token, "next": "/", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303, response.text
    return user


@dataclass
class Site:
    """A populated app, a signed-out and a signed-in (admin) client, and real values for every
    path parameter name, for tests that walk the whole web surface."""

    app: object
    anonymous: TestClient
    member: TestClient
    api_token: str
    values: dict[str, str]


def populated_site(settings, engine, search) -> Site:
    """The seeded papers plus an admin with a vote, a public and a private collection, a saved
    search and an API token: every page has something real to show."""
    seed(engine)
    app = make_app(settings, engine, search=search)
    browser = dict(headers={"accept": "text/html"}, follow_redirects=False)
    anonymous = TestClient(app, raise_server_exceptions=False, **browser)
    member = TestClient(app, raise_server_exceptions=False, **browser)
    user = sign_in(member, engine, "crawler@example.org", admin=True)
    set_vote(engine, user.id, MATH_ID, True)
    public = coll_store.create_collection(engine, user.id, "Reading list", is_public=True)
    coll_store.add_paper(engine, user.id, public.id, MATH_ID)
    private = coll_store.create_collection(engine, user.id, "Private")
    coll_store.add_paper(engine, user.id, private.id, SCRIPT_ID)
    search_id = coll_store.save_search(engine, user.id, "mine", "q=diffusion&min_upvotes=1")
    secret = settings.secret_key.get_secret_value()
    values = {
        "paper_id": MATH_ID,
        "name": "Ada Lovelace",
        "category": "cs.LG",
        "day": DAY3.isoformat(),
        "week": "2025-W06",
        "month": "2025-02",
        "fmt": "atom",
        "collection_id": str(public.id),
        "token": saved_search_feed_token(secret, search_id),
        "path": "app.css",
        "venue": "ACL",
        "year": "2024",
        "issn": "1687-725X",
    }
    values["import_id"] = str(
        imports.create_import(engine, user.id, "library", "crawl.bib", "uploads/none", "Crawl")
    )
    org = create_org(engine, "Crawl Lab", names=["Crawl Lab"])
    comment = add_comment(engine, MATH_ID, user.id, "A *comment*", "<p>A <em>comment</em></p>")
    values |= {"slug": org.slug, "handle": user.public_handle, "comment_id": str(comment.id)}
    token = auth.create_api_token(engine, user.id, "crawler")
    return Site(app, anonymous, member, token, values)


def page_csrf(client: TestClient, path: str = "/profile") -> str:
    """The signed-in session's CSRF token, read from a page that has forms."""
    return csrf_from(client.get(path))


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app served by a real uvicorn on a loopback port, in a background thread."""

    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def link_in(message) -> str:
    """The sign-in link inside an email."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+/signin/verify\?\S+", body)
    assert match, body
    return match.group(0)


def hf_api(url: str, monkeypatch):
    """The official huggingface_hub client pointed at a paperroute server.

    The bundled embedder sets HF_HUB_OFFLINE=1 so the model never downloads; that flag also
    blocks the client's requests, even to loopback, so it is lifted here: this client only ever
    talks to the local test server.
    """
    from huggingface_hub import HfApi, constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return HfApi(endpoint=url, token=False)


def finished_import(client: TestClient, started, timeout: float = 60.0):
    """Follow an upload's redirect to its import page and wait for the background import to end;
    returns (status, the page as the reader then sees it)."""
    import time

    assert started.status_code == 303, started.text
    url = started.headers["location"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(url, params={"format": "json"}).json()
        if state["status"] in {"done", "failed"}:
            return state["status"], client.get(url)
        time.sleep(0.1)
    raise AssertionError(f"import {url} did not finish in {timeout} s")


def parse_curl(command: str, token: str) -> tuple[str, str, dict, str | None]:
    """(method, path and query, headers, body) of one of /docs' curl commands."""
    words = shlex.split(command.replace("$TOKEN", token))
    assert words[:2] == ["curl", "-s"], command
    method, headers, body, url = "GET", {}, None, words[-1]
    pairs = iter(words[2:-1])
    for flag in pairs:
        value = next(pairs)
        if flag == "-X":
            method = value
        elif flag == "-H":
            name, _, text = value.partition(": ")
            headers[name.lower()] = text
        elif flag == "-d":
            body = value
    return method, re.sub(r"^https?://[^/]+", "", url), headers, body


def browser_sign_in(site, page, email: str) -> None:
    """Sign a chromium page in through the real verify page with a token from the store, and
    wait until the header shows the signed-in member."""
    token = auth.create_login_token(site.engine, email)
    page.goto(f"{site.url}/signin/verify?token={token}")
    page.click("#finish-signin")
    page.wait_for_selector("a.who, a.menu-who", state="attached")
