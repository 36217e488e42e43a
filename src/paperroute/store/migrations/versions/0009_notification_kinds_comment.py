"""notifications.kind's column comment names every kind, authored_paper included

Only the comment changes (SQLite keeps no column comments, so there it is a no-op).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_OLD = "reply|mention|saved_paper|followed_author"
_NEW = "reply|mention|authored_paper|saved_paper|followed_author"


def _set_comment(comment: str, existing: str) -> None:
    if op.get_context().dialect.name == "sqlite":
        return
    op.alter_column(
        "notifications",
        "kind",
        existing_type=sa.String(24),
        existing_nullable=False,
        comment=comment,
        existing_comment=existing,
    )


def upgrade() -> None:
    _set_comment(_NEW, _OLD)


def downgrade() -> None:
    _set_comment(_OLD, _NEW)
