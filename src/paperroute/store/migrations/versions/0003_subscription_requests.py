"""subscription requests; subscriptions owned only by a proven address

Revision ID: 0003
Revises: 0002

A /subscribe request no longer writes preferences into an existing subscription: it is kept in
`subscription_requests` until the address owner clicks its confirmation link. Rows whose
`user_id` names a user with another address (a takeover the old /subscribe allowed) are given
back to the user who owns the address, or to nobody.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("preferences", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_requests_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_requests")),
        sqlite_autoincrement=True,  # ids never reused: an old link must not name a newer request
    )
    with op.batch_alter_table("subscription_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscription_requests_subscription", ["subscription_id"], unique=False
        )
    op.execute(
        "UPDATE subscriptions SET user_id = "
        "(SELECT users.id FROM users WHERE users.email = subscriptions.email) "
        "WHERE user_id IS NOT NULL AND user_id NOT IN "
        "(SELECT users.id FROM users WHERE users.email = subscriptions.email)"
    )


def downgrade() -> None:
    with op.batch_alter_table("subscription_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_requests_subscription")
    op.drop_table("subscription_requests")
