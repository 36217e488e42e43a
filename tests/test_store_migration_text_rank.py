"""Migration 0012 on a store made by the previous release (revision 0011)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from paperroute.store.engine import MIGRATIONS_DIR, make_engine, migrate

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _upgrade_to(engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, revision)


def _paper(conn, pid: str, latest: int | None, *observations: dict) -> None:
    """A papers row as revision 0011 holds it, with one provenance row per observation."""
    conn.execute(
        text(
            "INSERT INTO papers (id, title, abstract, authors, categories, hf_upvotes, upvotes,"
            " saves, keywords, content_hash, hidden, featured, first_seen, last_changed,"
            " latest_version, num_comments) VALUES (:id, 'T', 'A.', '[]', '[]', 0, 0, 0, '[]',"
            " 'h', false, false, :now, :now, :latest, 0)"
        ),
        {"id": pid, "now": NOW, "latest": latest},
    )
    for n, fields in enumerate(observations):
        conn.execute(
            text(
                "INSERT INTO provenance (paper_id, source, observed_at, record_hash, fields)"
                " VALUES (:id, :source, :now, :hash, :fields)"
            ),
            {
                "id": pid,
                "source": f"s{n}",
                "now": NOW,
                "hash": f"h{n}",
                "fields": json.dumps(fields),
            },
        )


def test_upgrading_marks_papers_whose_text_came_from_an_unversioned_preprint(database_url):
    engine = make_engine(database_url)
    _upgrade_to(engine, "0011")
    with engine.begin() as conn:
        _paper(conn, "2406.04523", None, {"title": "T"}, {"title": "T", "venue": "ACL",
               "publication_type": "proceedings"})  # fmt: skip
        _paper(conn, "doi:10.1/x", None, {"title": "T", "publication_type": "journal"})
        _paper(conn, "2401.00002", None, {"citation_count": 4})  # enrichment only
        _paper(conn, "2401.00003", 2, {"title": "T", "version": 2})
    migrate(engine)
    with engine.connect() as conn:
        got = dict(conn.execute(text("SELECT id, latest_version FROM papers")).all())
    engine.dispose()
    assert got == {"2406.04523": 0, "doi:10.1/x": None, "2401.00002": None, "2401.00003": 2}
