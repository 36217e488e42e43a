"""community submissions, author claims, organisations; member handle and ORCID iD

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN and a unique index, not a batch rebuild of `users`: on SQLite a rebuild
    # drops the table, and with foreign keys on every `ON DELETE SET NULL` reference to it
    # (subscriptions, submissions ...) would lose its owner.
    op.add_column(
        "users",
            sa.Column(
                "handle",
                sa.String(length=40),
                nullable=True,
                comment="public name in /members/<handle> URLs",
            )
    )
    op.add_column(
        "users",
            sa.Column(
                "orcid",
                sa.String(length=19),
                nullable=True,
                comment="ORCID iD the member gave, checksum-validated",
            )
    )
    op.create_index("uq_users_handle", "users", ["handle"], unique=True)
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.create_index("ix_papers_organization", ["organization"], unique=False)
    op.create_table(
        "submissions",
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="the daily page it is on (UTC day)"),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"], name=op.f("fk_submissions_paper_id_papers"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_submissions_user_id_users"),
            ondelete="SET NULL",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("paper_id", name=op.f("pk_submissions")),
    )
    op.create_index("ix_submissions_user", "submissions", ["user_id"])
    op.create_index("ix_submissions_day", "submissions", ["day"])
    op.create_table(
        "author_claims",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("author_name", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="pending|approved|rejected"),
        sa.Column("how", sa.String(length=32), nullable=True, comment="admin|email_domain|orcid"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"], name=op.f("fk_author_claims_paper_id_papers"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_author_claims_user_id_users"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_author_claims")),
        sa.UniqueConstraint("paper_id", "user_id", name="uq_author_claims_paper_user"),
    )
    op.create_index("ix_author_claims_user", "author_claims", ["user_id"])
    op.create_index("ix_author_claims_status", "author_claims", ["status"])
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
    )
    op.create_table(
        "org_members",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_org_members_org_id_organizations"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_org_members_user_id_users"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("org_id", "user_id", name=op.f("pk_org_members")),
    )


def downgrade() -> None:
    op.drop_table("org_members")
    op.drop_table("organizations")
    op.drop_index("ix_author_claims_status", table_name="author_claims")
    op.drop_index("ix_author_claims_user", table_name="author_claims")
    op.drop_table("author_claims")
    op.drop_index("ix_submissions_day", table_name="submissions")
    op.drop_index("ix_submissions_user", table_name="submissions")
    op.drop_table("submissions")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index("ix_papers_organization")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("uq_users_handle")
        batch_op.drop_column("orcid")
        batch_op.drop_column("handle")
