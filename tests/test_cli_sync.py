"""`paperroute sync arxiv-oai` against recorded OAI-PMH pages on a loopback HTTP server.

An interrupted harvest keeps what it stored and resumes from the saved resumptionToken.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner
from werkzeug import Request, Response

from paperroute.cli import app
from paperroute.store.engine import make_engine
from paperroute.store.papers import count_papers

OAI = Path(__file__).parent / "data" / "sources" / "oai"
# Tokens are opaque: the server hands them out URL-encoded and gets them back as they were.
PAGES = {
    None: "ListRecords_arXiv_page1_first3.xml",
    "verb%3DListRecords%26metadataPrefix%3DarXiv%26from%3D2011-02-03%26skip%3D94": (
        "ListRecords_arXiv_page2_first3.xml"
    ),
    "verb%3DListRecords%26metadataPrefix%3DarXiv%26from%3D2011-07-25%26skip%3D1": (
        "ListRecords_arXiv_page6.xml"
    ),
}


def _oai_handler(fail_on_token: bool, seen: list[dict]):
    def handle(request: Request) -> Response:
        args = dict(request.args)
        seen.append(args)
        token = args.get("resumptionToken")
        if token and fail_on_token:
            return Response("server exploded", status=500)
        body = (OAI / PAGES[token]).read_bytes()
        return Response(body, content_type="text/xml")

    return handle


def _sync(tmp_path, database_url, monkeypatch, httpserver):
    monkeypatch.setenv("PAPERROUTE_ARXIV_OAI_URL", httpserver.url_for("/oai"))
    base = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    args = [*base, "sync", "arxiv-oai", "--from", "2011-02-03"]
    return CliRunner().invoke(app, args, catch_exceptions=False)


def test_interrupted_harvest_resumes_from_the_saved_token(
    tmp_path, database_url, monkeypatch, httpserver
):
    seen: list[dict] = []
    httpserver.expect_request("/oai").respond_with_handler(_oai_handler(True, seen))
    failed = _sync(tmp_path, database_url, monkeypatch, httpserver)
    engine = make_engine(database_url)
    assert failed.exit_code == 1
    assert "resume" in failed.stderr
    assert count_papers(engine) == 3  # the first page is kept

    httpserver.clear()
    seen.clear()
    httpserver.expect_request("/oai").respond_with_handler(_oai_handler(False, seen))
    resumed = _sync(tmp_path, database_url, monkeypatch, httpserver)
    assert resumed.exit_code == 0, resumed.stderr
    assert "resumptionToken" in seen[0] and "from" not in seen[0]
    assert count_papers(engine) == 9

    seen.clear()
    again = _sync(tmp_path, database_url, monkeypatch, httpserver)
    assert again.exit_code == 0
    assert "from" in seen[0], "a finished harvest starts over instead of resuming"
    assert "0 papers added, 0 updated" in again.stderr
    engine.dispose()
