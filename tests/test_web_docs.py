"""Every example a person can copy works on the demo: the curl commands of /docs and the
README's command-line section, run against a store loaded with the bundled demo corpus."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperroute.cli import app as cli_app
from paperroute.cli import load_demo_if_empty
from paperroute.config import load_settings
from paperroute.store import auth
from paperroute.store.engine import make_engine, migrate
from paperroute.store.users import add_user
from webtools import client_for, doc, make_app, parse_curl

README = Path(__file__).parent.parent / "README.md"
# README commands that read the store and work offline; the others sync from the network,
# serve, or write (they are exercised by their own tests).
READ_ONLY = ("papers show", "search", "similar", "stats")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A SQLite store holding the demo corpus (precomputed vectors included) and its settings."""
    data = tmp_path_factory.mktemp("demo")
    settings = load_settings(data_dir=data, load_demo=True)
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    load_demo_if_empty(settings, engine)
    yield settings, engine
    engine.dispose()


@pytest.fixture(scope="module")
def demo_client(demo):
    from paperroute.search.service import SearchService

    settings, engine = demo
    search = SearchService(settings, engine)
    search.open()
    with client_for(make_app(settings, engine, search=search)) as client:
        yield client


def test_every_example_on_the_api_reference_answers_on_the_demo(demo, demo_client):
    _, engine = demo
    user = add_user(engine, "docs-reader@example.org")
    token = auth.create_api_token(engine, user.id, "docs")
    page = demo_client.get("/docs")
    examples = [e.text_content() for e in doc(page).cssselect("pre.example code")]
    without = sorted(
        " ".join(e.cssselect("h3")[0].text_content().split())
        for e in doc(page).cssselect(".endpoint")
        if not e.cssselect("pre.example")
    )
    # Every operation has a runnable example but those that need a row of your own (a
    # collection, a comment) or a fetch from arXiv (a submission), which the demo cannot hold.
    allowed = ("{collection_id}", "{comment_id}", "/api/submissions")
    assert all(any(part in op for part in allowed) for op in without), " | ".join(without)
    assert len(examples) >= 9
    for command in examples:
        method, path, headers, body = parse_curl(command, token)
        response = demo_client.request(
            method, path, headers={**headers, "accept": "application/json"}, content=body
        )
        assert response.status_code in (200, 201), (command, response.text[:300])
        if "authorization" not in headers:  # your own lists may be empty; public ones never
            assert response.json(), command  # the ids, days and words are the demo's


def test_openapi_has_response_schemas_and_no_page_routes(demo_client):
    spec = demo_client.get("/openapi.json").json()
    assert spec["paths"] and all(path.startswith("/api/") for path in spec["paths"])
    paper = spec["paths"]["/api/papers/{paper_id}"]["get"]["responses"]["200"]
    assert paper["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaperOut"
    }
    assert {t["name"] for t in spec["tags"]} >= {"Daily papers", "Papers", "Search", "Collections"}
    html = demo_client.get("/docs").text
    assert "`" not in html.split("<main", 1)[1] and "daily_papers(" not in html.split("<h2", 1)[1]


def _readme_commands() -> list[list[str]]:
    section = README.read_text().split("## Command line", 1)[1].split("```sh", 1)[1]
    commands = []
    for line in section.split("```", 1)[0].splitlines():
        line = line.split("#", 1)[0].split(" | ", 1)[0]
        line = re.sub(r"\[[^\]]*\]", "", line).strip()  # optional parts in brackets
        words = shlex.split(line)[1:]  # drop .venv/bin/paperroute
        if words and any(" ".join(words).startswith(c) for c in READ_ONLY):
            commands.append(words)
    return commands


def test_readme_command_line_examples_work_on_the_demo(demo):
    settings, _ = demo
    commands = _readme_commands()
    assert {c[0] for c in commands} >= {"papers", "search", "similar", "stats"}
    runner = CliRunner()
    for words in commands:
        result = runner.invoke(cli_app, ["--data-dir", str(settings.data_dir), *words])
        assert result.exit_code == 0, (words, result.output[-500:])
        assert result.output.strip(), words


def test_the_demo_papers_carry_arxiv_categories_so_category_pages_and_cat_search_work(
    demo_client,
):
    page = demo_client.get("/categories/cs.CV")
    assert page.status_code == 200
    assert len(doc(page).cssselect(".paper-card")) >= 5
    found = demo_client.get("/search?q=diffusion+cat:cs.CV&format=json")
    assert found.status_code == 200
    hits = found.json()["results"] if "results" in found.json() else found.json()["papers"]
    assert hits and all("cs.CV" in h["categories"] for h in hits)
