"""An index on the handle `@name` mentions match: lower(replace(display_name, ' ', ''))

A mention used to scan every member (5 ms a comment at 20,000 members on SQLite); with the
expression index it is a lookup. Both backends index expressions.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_users_mention_handle", "users", [sa.text("lower(replace(display_name, ' ', ''))")]
    )


def downgrade() -> None:
    op.drop_index("ix_users_mention_handle", table_name="users")
