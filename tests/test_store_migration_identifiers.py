"""Migration 0008 on a store made by the previous release (revision 0005) with papers in it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text

from paperroute.models import Author, PaperRecord
from paperroute.store import papers as store_papers
from paperroute.store.engine import MIGRATIONS_DIR, make_engine, migrate
from paperroute.store.schema import metadata, paper_identifiers

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _upgrade_to(engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, revision)


def _old_paper(conn, pid: str, doi: str | None) -> None:
    """A papers row exactly as revision 0005's columns hold it."""
    conn.execute(
        text(
            "INSERT INTO papers (id, title, abstract, authors, categories, doi, hf_upvotes,"
            " upvotes, saves, keywords, content_hash, hidden, featured, first_seen,"
            " last_changed, latest_version, published) VALUES (:id, :t, 'Abstract.', :a,"
            " '[\"cs.CL\"]', :doi, 3, 0, 0, '[]', 'h', false, false, :now, :now, 1, :now)"
        ),
        {
            "id": pid,
            "t": f"Paper {pid}",
            "a": json.dumps([{"name": "Grace Hopper", "affiliations": []}]),
            "doi": doi,
            "now": NOW,
        },
    )


def test_upgrading_a_0005_store_backfills_identifiers_and_keeps_papers(database_url):
    engine = make_engine(database_url)
    _upgrade_to(engine, "0005")
    with engine.begin() as conn:
        _old_paper(conn, "2401.00001", "10.18653/V1/2024.ACL-LONG.1")
        _old_paper(conn, "2401.00002", None)
        _old_paper(conn, "2401.00003", "10.18653/v1/2024.acl-long.1")  # claims the same DOI
    migrate(engine)
    with engine.connect() as conn:
        idents = sorted(tuple(r) for r in conn.execute(select(paper_identifiers)))
    assert idents == [
        ("arxiv", "2401.00001", "2401.00001"),
        ("arxiv", "2401.00002", "2401.00002"),
        ("arxiv", "2401.00003", "2401.00003"),
        ("doi", "10.18653/v1/2024.acl-long.1", "2401.00001"),
    ]
    # The published version arrives by DOI and joins the paper that had it before the upgrade.
    published = PaperRecord(
        source="crossref",
        id="doi:10.18653/v1/2024.acl-long.1",
        title="Another title",
        authors=[Author("Someone Else")],
        identifiers={"doi": "10.18653/v1/2024.acl-long.1"},
        venue="ACL",
        year=2024,
        publication_type="proceedings",
    )
    store_papers.upsert_records(engine, [published])
    assert store_papers.count_papers(engine) == 3
    assert store_papers.get_paper(engine, "2401.00001").venue == "ACL"
    # The backfilled match key finds an old paper by its title and first author.
    by_title = PaperRecord(
        source="acl_anthology",
        id="acl:2024.acl-long.2",
        title="Paper 2401.00002",
        authors=[Author("Grace Hopper")],
        identifiers={"acl": "2024.acl-long.2"},
        year=2025,
    )
    store_papers.upsert_records(engine, [by_title])
    assert store_papers.resolve_paper_id(engine, "acl/2024.acl-long.2") == "2401.00002"
    engine.dispose()


def test_a_migrated_database_has_the_tables_and_columns_of_the_schema(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    found = inspect(engine)
    for table in metadata.sorted_tables:
        if table.name == "paper_identifiers" or table.name == "papers":
            columns = {c["name"] for c in found.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
    engine.dispose()
