"""The pgvector extension and the default model's vector table, on PostgreSQL

The table holds derived data (the embeddings table is the source): a search service that finds
it empty builds it in one bulk load. Its name is `store.pgvector_index.vector_table_name` of
all-MiniLM-L6-v2 at 384 dimensions, written out here because a migration must not change when
that code does. Where the extension cannot be created (no pgvector, or no right to create it)
the migration leaves both out and the service falls back to a usearch file, as before.

Revision ID: 0010
Revises: 0009
"""

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

_TABLE = "vector_index_3e5ac77795b0"  # sentence-transformers/all-MiniLM-L6-v2, 384 dimensions


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():  # a savepoint: a failure must not abort the migration
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except DBAPIError as exc:
        log.warning("pgvector unavailable (%s); vectors will be kept in a usearch file", exc.orig)
        return
    op.execute(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} (paper_id text PRIMARY KEY, vec halfvec(384) NOT NULL)"
    )
    op.execute(
        f"CREATE INDEX IF NOT EXISTS {_TABLE}_hnsw ON {_TABLE} "
        "USING hnsw (vec halfvec_cosine_ops) WITH (m = 16, ef_construction = 64)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TABLE IF EXISTS {_TABLE}")
