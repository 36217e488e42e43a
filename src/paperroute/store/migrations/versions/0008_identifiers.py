"""paper_identifiers, the published version and enrichment columns; backfill from existing papers

Every existing paper gets its arXiv id and (lower-cased) DOI as identifiers and its match key
(normalised title + first author surname), so records from the new sources find it. On
PostgreSQL the paper id columns widen to 255 characters: a DOI key (`doi:10.x/...`) can be longer
than the 64 an arXiv id needed (SQLite does not enforce lengths, so its tables stay as they are).

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

from paperroute.store import merge

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_PAPER_ID_COLUMNS = [
    ("paper_versions", "paper_id"),
    ("paper_authors", "paper_id"),
    ("paper_categories", "paper_id"),
    ("provenance", "paper_id"),
    ("embeddings", "paper_id"),
    ("votes", "paper_id"),
    ("collection_items", "paper_id"),
    ("not_interested", "paper_id"),
    ("sent_papers", "paper_id"),
    ("papers", "id"),
]
_BATCH = 2000


def _new_columns() -> list[sa.Column]:
    return [
        sa.Column("venue", sa.String(255), comment="ACL, NeurIPS, a journal title"),
        sa.Column("year", sa.Integer(), comment="year of the venue or publication"),
        sa.Column(
            "track", sa.String(64), comment="oral, spotlight, poster, findings, long, short"
        ),
        sa.Column("publication_type", sa.String(32), comment="preprint, proceedings, journal"),
        sa.Column("issn", sa.String(32)),
        sa.Column("volume", sa.String(64)),
        sa.Column("issue", sa.String(64)),
        sa.Column("pages", sa.String(64)),
        sa.Column("citation_count", sa.Integer()),
        sa.Column("influential_citations", sa.Integer()),
        sa.Column(
            "citations_source", sa.String(64), comment="the source the citation counts came from"
        ),
        sa.Column(
            "citations_observed_at",
            sa.DateTime(timezone=True),
            comment="when that source reported them",
        ),
        sa.Column("tldr", sa.Text()),
        sa.Column("tldr_source", sa.String(64), comment="the source the TLDR came from"),
        sa.Column("tasks", sa.JSON(none_as_null=True), comment="Papers with Code tasks"),
        sa.Column("bibtex", sa.Text(), comment="the BibTeX exactly as a source gave it"),
        sa.Column(
            "match_key",
            sa.String(255),
            comment="normalised title|first author surname: merges records without a shared id",
        ),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, column in _PAPER_ID_COLUMNS:
            op.alter_column(table, column, type_=sa.String(255), existing_nullable=False)
        # The comment schema.py gives papers.id since non-arXiv papers (added to this migration
        # when tests/test_store_schema_drift.py found it missing; harmless where it ran before).
        op.alter_column(
            "papers",
            "id",
            existing_type=sa.String(255),
            existing_nullable=False,
            comment="canonical arXiv id (no version), else record_key: doi:10.x/..",
        )
    with op.batch_alter_table("papers", schema=None) as batch_op:
        for column in _new_columns():
            batch_op.add_column(column)
    for name in ("venue", "issn"):  # partial: most papers have neither
        where = sa.text(f"{name} IS NOT NULL")
        op.create_index(
            f"ix_papers_{name}", "papers", [name], sqlite_where=where, postgresql_where=where
        )
    op.create_index("ix_papers_match_key", "papers", ["match_key"])
    op.create_table(
        "paper_identifiers",
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("paper_id", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name="fk_paper_identifiers_paper_id_papers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scheme", "value", name="pk_paper_identifiers"),
    )
    op.create_index("ix_paper_identifiers_paper", "paper_identifiers", ["paper_id"])
    _backfill(bind)


def _backfill(bind) -> None:
    """Identifiers and match keys of the papers already stored, in batches (constant memory)."""
    papers = sa.table(
        "papers",
        sa.column("id", sa.String),
        sa.column("doi", sa.String),
        sa.column("title", sa.Text),
        sa.column("authors", sa.JSON),
        sa.column("match_key", sa.String),
    )
    idents = sa.table(
        "paper_identifiers",
        sa.column("scheme", sa.String),
        sa.column("value", sa.String),
        sa.column("paper_id", sa.String),
    )
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    # Two stored papers that claim one DOI: the first by id keeps it.
    insert = dialect.insert(idents).on_conflict_do_nothing()
    last = ""
    while True:
        rows = bind.execute(
            sa.select(papers.c.id, papers.c.doi, papers.c.title, papers.c.authors)
            .where(papers.c.id > last)
            .order_by(papers.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        pairs, keys = [], []
        for pid, doi, title, authors in rows:
            if ":" not in pid:
                pairs.append({"scheme": "arxiv", "value": pid, "paper_id": pid})
            if doi:
                try:
                    value = merge.normalise_identifier("doi", doi)
                except ValueError:
                    value = None
                if value:
                    pairs.append({"scheme": "doi", "value": value, "paper_id": pid})
            first = authors[0]["name"] if authors else None
            keys.append({"pid": pid, "key": merge.match_key(title, first)})
        if pairs:  # a DOI repeated inside the batch is skipped too
            bind.execute(insert, pairs)
        bind.execute(
            papers.update()
            .where(papers.c.id == sa.bindparam("pid"))
            .values(match_key=sa.bindparam("key")),
            keys,
        )
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_paper_identifiers_paper", table_name="paper_identifiers")
    op.drop_table("paper_identifiers")
    op.drop_index("ix_papers_match_key", table_name="papers")
    op.drop_index("ix_papers_issn", table_name="papers")
    op.drop_index("ix_papers_venue", table_name="papers")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        for column in reversed(_new_columns()):
            batch_op.drop_column(column.name)
