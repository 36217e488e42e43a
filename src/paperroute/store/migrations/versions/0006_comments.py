"""Discussion: comments, comment votes and reports, member bans, notifications and their settings;
papers.num_comments

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "num_comments",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="visible comments (store/comments.py recounts it in each comment write)",
            )
        )
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE", name="fk_comments_paper_id_papers"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_comments_user_id_users"),
        ),
        sa.Column(
            "parent_id",
            sa.Integer(),
            sa.ForeignKey(
                "comments.id", ondelete="CASCADE", name="fk_comments_parent_id_comments"
            ),
        ),
        sa.Column("body", sa.Text(), nullable=False, comment="Markdown as written"),
        sa.Column("html", sa.Text(), nullable=False, comment="sanitised HTML of body"),
        sa.Column("upvotes", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("edited_at", TS),
        sa.Column("deleted_at", TS),
        sa.Column("hidden_at", TS, comment="hidden by a moderator, or by a ban of its author"),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_comments_paper", "comments", ["paper_id", "id"])
    op.create_index("ix_comments_user", "comments", ["user_id"])
    op.create_index("ix_comments_created", "comments", ["created_at"])
    op.create_table(
        "comment_votes",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_comment_votes_user_id_users"),
            nullable=False,
        ),
        sa.Column(
            "comment_id",
            sa.Integer(),
            sa.ForeignKey(
                "comments.id", ondelete="CASCADE", name="fk_comment_votes_comment_id_comments"
            ),
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "comment_id", name="pk_comment_votes"),
    )
    op.create_index("ix_comment_votes_comment", "comment_votes", ["comment_id"])
    op.create_table(
        "comment_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "comment_id",
            sa.Integer(),
            sa.ForeignKey(
                "comments.id", ondelete="CASCADE", name="fk_comment_reports_comment_id_comments"
            ),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey(
                "users.id", ondelete="SET NULL", name="fk_comment_reports_user_id_users"
            ),
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.Column("resolution", sa.String(16), comment="hidden|deleted|banned|dismissed"),
        sa.PrimaryKeyConstraint("id", name="pk_comment_reports"),
        sa.UniqueConstraint("comment_id", "user_id", name="uq_comment_reports_comment_user"),
    )
    op.create_index("ix_comment_reports_open", "comment_reports", ["resolved_at"])
    op.create_table(
        "member_bans",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_member_bans_user_id_users"),
            nullable=False,
        ),
        sa.Column(
            "banned_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_member_bans_banned_by_users"),
        ),
        sa.Column("reason", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_member_bans"),
    )
    _notifications()


def _notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_notifications_user_id_users"),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.String(24),
            nullable=False,
            comment="reply|mention|saved_paper|followed_author",
        ),
        sa.Column(
            "dedupe", sa.String(96), nullable=False, comment="what it is about: comment:7, paper:x"
        ),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey(
                "papers.id", ondelete="CASCADE", name="fk_notifications_paper_id_papers"
            ),
        ),
        sa.Column(
            "comment_id",
            sa.Integer(),
            sa.ForeignKey(
                "comments.id", ondelete="CASCADE", name="fk_notifications_comment_id_comments"
            ),
        ),
        sa.Column(
            "actor_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_notifications_actor_id_users"),
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS),
        sa.Column(
            "mail_status", sa.String(16), comment="pending|claimed|retry|sent|failed|skipped"
        ),
        sa.Column("gathered", sa.Boolean(), nullable=False, comment="mailed in a daily batch"),
        sa.Column("mail_due_at", TS),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_until", TS),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(255)),
        sa.Column("mailed_at", TS),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("user_id", "dedupe", name="uq_notifications_user_dedupe"),
    )
    op.create_index("ix_notifications_user_read", "notifications", ["user_id", "read_at"])
    op.create_index("ix_notifications_mail", "notifications", ["mail_status", "mail_due_at"])
    op.create_table(
        "notification_settings",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey(
                "users.id", ondelete="CASCADE", name="fk_notification_settings_user_id_users"
            ),
            nullable=False,
        ),
        sa.Column(
            "mail", sa.String(16), nullable=False, comment="instant|digest|off"
        ),
        sa.Column(
            "muted", sa.JSON(), nullable=False, comment="kinds never mailed (one-click unsubscribe)"
        ),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_notification_settings"),
    )


def downgrade() -> None:
    op.drop_table("notification_settings")
    op.drop_table("notifications")
    op.drop_table("member_bans")
    op.drop_table("comment_reports")
    op.drop_table("comment_votes")
    op.drop_table("comments")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_column("num_comments")
