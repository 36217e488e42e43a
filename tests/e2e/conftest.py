"""End-to-end fixtures: a real uvicorn server on loopback (SQLite file, real search service), a
real aiosmtpd SMTP server catching sign-in mail, and Debian's chromium driven by Playwright.
A failing test leaves a full-page screenshot in tests/e2e/screenshots/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from paperroute.search.embedding import embed_pending

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/ helpers (webtools, smtp_fixture)

from paperroute.config import load_settings  # noqa: E402
from paperroute.store.engine import make_engine, migrate  # noqa: E402
from smtp_fixture import SmtpServer  # noqa: E402
from webtools import LiveServer, make_app, seed  # noqa: E402

SCREENSHOTS = Path(__file__).parent / "screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.e2e_failed = report.failed


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory, smtp):
    """The app served by uvicorn on a loopback port, with the seeded papers and real search."""
    from paperroute.search.service import SearchService

    data = tmp_path_factory.mktemp("e2e")
    port = __import__("webtools").free_port()
    settings = load_settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'paperroute.db'}",
        load_demo=False,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        base_url=f"http://127.0.0.1:{port}",
    )
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    seed(engine)
    search = SearchService(settings, engine)
    search.open()
    embed_pending(search)  # vectors for the seeded papers, and the model loaded before serving
    search.similar("2502.00001")
    with LiveServer(make_app(settings, engine, search=search), port=port) as live:
        live.engine = engine
        yield live
    engine.dispose()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    if getattr(request.node, "e2e_failed", False):
        SCREENSHOTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture(scope="module")
def search_site(tmp_path_factory):
    """The app on uvicorn over the 300 real search-fixture papers (real vectors and model)."""
    from search_support import load_fixture, make_service

    data = tmp_path_factory.mktemp("e2e-search")
    settings = load_settings(
        data_dir=data, database_url=f"sqlite:///{data / 'paperroute.db'}", load_demo=False
    )
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    load_fixture(engine)
    search = make_service(settings, engine)
    search.search("warm up the query encoder")
    with LiveServer(make_app(settings, engine, search=search)) as live:
        yield live
    engine.dispose()
