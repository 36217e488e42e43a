"""papers.ai_summary and papers.organization: Hugging Face fields that import used to drop

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "ai_summary",
                sa.Text(),
                nullable=True,
                comment="the source's machine-written summary (Hugging Face)",
            )
        )
        batch_op.add_column(
            sa.Column(
                "organization",
                sa.String(length=255),
                nullable=True,
                comment="organisation the source credits",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_column("organization")
        batch_op.drop_column("ai_summary")
