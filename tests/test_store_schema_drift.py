"""The migrations and `store/schema.py` cannot drift apart: a database migrated to head has
exactly the tables, columns, types, indexes, constraints and comments the schema declares, on
both backends (tests/conftest.py's `engine` is migrated by Alembic, not by create_all)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import String

from paperroute.store.migrations.env_filters import include_object
from paperroute.store.schema import metadata


def _compare_type(context, inspected, metadata_column, inspected_type, metadata_type):
    # SQLite does not enforce VARCHAR lengths, so migration 0008 widened the paper id columns
    # (64 -> 255) on PostgreSQL only; any other type difference counts (None: Alembic's check).
    if (
        context.dialect.name == "sqlite"
        and isinstance(inspected_type, String)
        and isinstance(metadata_type, String)
    ):
        return False
    return None


def test_a_database_migrated_to_head_matches_schema_py(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": _compare_type,
                "compare_server_default": False,
                "include_object": include_object,
            },
        )
        diffs = compare_metadata(context, metadata)
    assert diffs == [], "schema.py and the migrations differ; add a migration:\n" + "\n".join(
        map(repr, diffs)
    )


def test_the_notification_kind_column_names_every_kind_the_code_stores(engine):
    """An admin reading the PostgreSQL catalogue sees every kind, authored_paper included."""
    from sqlalchemy import inspect

    from paperroute.store.notifications import KINDS

    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite keeps no column comments")
    columns = {c["name"]: c for c in inspect(engine).get_columns("notifications")}
    assert columns["kind"]["comment"].split("|") == list(KINDS)


def test_the_default_models_vector_table_is_made_by_the_migrations(engine):
    """On PostgreSQL the pgvector table and its HNSW index exist before any process opens them."""
    from sqlalchemy import inspect

    from paperroute.search.embedder import DEFAULT_MODEL
    from paperroute.store.pgvector_index import vector_table_name

    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite keeps vectors in a usearch file")
    name = vector_table_name(DEFAULT_MODEL, 384)
    inspector = inspect(engine)
    assert inspector.has_table(name)
    assert [i["name"] for i in inspector.get_indexes(name)] == [f"{name}_hnsw"]
