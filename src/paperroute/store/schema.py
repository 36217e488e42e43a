"""The database schema as SQLAlchemy Core tables; the Alembic migrations create it.

Every table of the product lives here so that there is one place to read the data model.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = DateTime(timezone=True)

papers = Table(
    "papers",
    metadata,
    Column(
        "id",
        String(255),
        primary_key=True,
        comment="canonical arXiv id (no version), else record_key: doi:10.x/..",
    ),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("authors", JSON, nullable=False, comment="[{name, affiliations}] in paper order"),
    Column("primary_category", String(32)),
    Column("categories", JSON, nullable=False, comment="all categories, primary first"),
    Column("published", TS),
    Column("updated", TS),
    Column("announced", Date, index=True),
    Column("latest_version", Integer),
    Column("comments", Text),
    Column("journal_ref", Text),
    Column("doi", String(255), index=True),
    Column("license", String(255)),
    Column("abs_url", String(512)),
    Column("pdf_url", String(512)),
    Column("code_url", String(512)),
    Column("project_url", String(512)),
    Column("github_stars", Integer),
    Column("hf_upvotes", Integer, nullable=False, default=0),
    Column("hf_observed_at", TS, comment="when the hf_upvotes snapshot was taken"),
    Column("upvotes", Integer, nullable=False, default=0, comment="local votes (count of votes)"),
    Column("saves", Integer, nullable=False, default=0),
    Column(
        "num_comments",
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        comment="visible comments (store/comments.py recounts it in each comment write)",
    ),
    Column("keywords", JSON, nullable=False),
    Column("ai_summary", Text, comment="the source's machine-written summary (Hugging Face)"),
    Column("organization", String(255), index=True, comment="organisation the source credits"),
    Column("submitter", String(255)),
    Column("content_hash", String(64), nullable=False, comment="hash of title+abstract"),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("featured", Boolean, nullable=False, default=False),
    Column("first_seen", TS, nullable=False),
    Column("last_changed", TS, nullable=False),
    # Beyond arXiv (issue 14): the published version and what enrichment sources said.
    Column("venue", String(255), comment="ACL, NeurIPS, a journal title"),
    Column("year", Integer, comment="year of the venue or publication"),
    Column("track", String(64), comment="oral, spotlight, poster, findings, long, short"),
    Column("publication_type", String(32), comment="preprint, proceedings, journal"),
    Column("issn", String(32)),
    Column("volume", String(64)),
    Column("issue", String(64)),
    Column("pages", String(64)),
    Column("citation_count", Integer),
    Column("influential_citations", Integer),
    Column("citations_source", String(64), comment="the source the citation counts came from"),
    Column("citations_observed_at", TS, comment="when that source reported them"),
    Column("tldr", Text),
    Column("tldr_source", String(64), comment="the source the TLDR came from"),
    # none_as_null: most papers have no tasks, and a NULL costs nothing to write (a JSON "null"
    # was one json.dumps per imported paper).
    Column("tasks", JSON(none_as_null=True), comment="Papers with Code tasks"),
    Column("bibtex", Text, comment="the BibTeX exactly as a source gave it"),
    Column(
        "match_key",
        String(255),
        index=True,
        comment="normalised title|first author surname: merges records without a shared id",
    ),
)

# Partial: most papers are arXiv-only, and an index entry per NULL slowed every import.
for _name in ("venue", "issn"):
    _not_null = papers.c[_name].is_not(None)
    Index(f"ix_papers_{_name}", papers.c[_name], sqlite_where=_not_null, postgresql_where=_not_null)

# Every identifier of a paper (arXiv id, DOI lower-cased, ACL id, PMID ...): each names one paper,
# so records from different sources find the paper they describe by any of them.
paper_identifiers = Table(
    "paper_identifiers",
    metadata,
    Column("scheme", String(16), nullable=False),
    Column("value", String(255), nullable=False),
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("scheme", "value"),
    Index("ix_paper_identifiers_paper", "paper_id"),
)

paper_versions = Table(
    "paper_versions",
    metadata,
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("submitted", TS),
    Column("title", Text),
    Column("abstract", Text),
    Column("size", String(32)),
    PrimaryKeyConstraint("paper_id", "version"),
)

paper_authors = Table(
    "paper_authors",
    metadata,
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", String(512), nullable=False),
    Column("name_key", String(512), nullable=False, index=True, comment="lower-cased name"),
    PrimaryKeyConstraint("paper_id", "position"),
)

paper_categories = Table(
    "paper_categories",
    metadata,
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("category", String(32), nullable=False, index=True),
    Column("is_primary", Boolean, nullable=False, default=False),
    PrimaryKeyConstraint("paper_id", "category"),
)

provenance = Table(
    "provenance",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(64), nullable=False),
    Column("observed_at", TS, nullable=False),
    Column("record_hash", String(64), nullable=False),
    Column("fields", Text, nullable=False, comment="JSON: what the source said (non-empty fields)"),
    UniqueConstraint("paper_id", "source", "record_hash", name="uq_provenance_record"),
    Index("ix_provenance_paper", "paper_id"),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", TS, nullable=False),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("model", String(255), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False, comment="float32 little-endian"),
    Column("created_at", TS, nullable=False),
    PrimaryKeyConstraint("paper_id", "model"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(255)),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", TS, nullable=False),
    Column("last_login_at", TS),
    Column("onboarding", JSON, comment="cold-start picks: categories, topics"),
    Column("handle", String(40), comment="public name in /members/<handle> URLs"),
    Column("orcid", String(19), comment="ORCID iD the member gave, checksum-validated"),
    Index("uq_users_handle", "handle", unique=True),  # as migration 0007 made it
)
# What `@name` mentions match (store/comments.mentioned_members_in): the display name without
# spaces, lower-cased, indexed (migration 0011) so a mention is a lookup, not a scan of every
# member. The constants are SQL literals: a bound parameter would not match the index.
MENTION_HANDLE = func.lower(
    func.replace(users.c.display_name, literal_column("' '"), literal_column("''"))
)
Index("ix_users_mention_handle", MENTION_HANDLE)

login_tokens = Table(
    "login_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("email", String(320), nullable=False, index=True),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
    Column("last_used_at", TS),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True, comment="SHA-256 of the cookie's session id"),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Index("ix_sessions_user_id", "user_id"),
)

votes = Table(
    "votes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TS, nullable=False),
    PrimaryKeyConstraint("user_id", "paper_id"),
    Index("ix_votes_paper", "paper_id"),
)

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("slug", String(255), nullable=False),
    Column("is_public", Boolean, nullable=False, default=False),
    Column("description", Text),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("user_id", "slug", name="uq_collections_user_slug"),
)

collection_items = Table(
    "collection_items",
    metadata,
    Column(
        "collection_id", Integer, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False
    ),
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("added_at", TS, nullable=False),
    PrimaryKeyConstraint("collection_id", "paper_id"),
    Index("ix_collection_items_paper", "paper_id"),
)

not_interested = Table(
    "not_interested",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TS, nullable=False),
    PrimaryKeyConstraint("user_id", "paper_id"),
)

saved_searches = Table(
    "saved_searches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("query", Text, nullable=False),
    Column("created_at", TS, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("status", String(16), nullable=False, comment="pending|active|unsubscribed|paused"),
    Column("cadence", String(16), nullable=False, default="daily"),
    Column("weekday", Integer, nullable=False, default=0, comment="0=Monday, weekly cadence"),
    Column("send_hour", Integer, nullable=False, default=7),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("sections", JSON, nullable=False, comment="enabled sections and their options"),
    Column("topics", JSON, nullable=False),
    Column("follow_authors", JSON, nullable=False),
    Column("follow_categories", JSON, nullable=False),
    Column("send_empty", Boolean, nullable=False, default=False),
    Column("hard_bounces", Integer, nullable=False, default=0),
    Column("created_at", TS, nullable=False),
    Column("confirmed_at", TS),
)

# A /subscribe request waiting for the address owner's click: its preferences take effect only
# through the confirmation link that names this row, so nobody else can change a subscription.
subscription_requests = Table(
    "subscription_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscription_id",
        Integer,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("preferences", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_subscription_requests_subscription", "subscription_id"),
    # Ids are never reused (SQLite's AUTOINCREMENT): an old link must not name a newer request.
    sqlite_autoincrement=True,
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscription_id",
        Integer,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("period", String(32), nullable=False, comment="e.g. 2026-11-29 or 2026-W48"),
    Column("status", String(16), nullable=False, comment="claimed|sent|failed|skipped"),
    Column("claimed_by", String(128)),
    Column("claimed_until", TS),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS),
    Column("last_error", Text),
    Column("message_id", String(255)),
    Column("paper_ids", JSON),
    Column("sent_at", TS),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("subscription_id", "period", name="uq_deliveries_subscription_period"),
)

sent_papers = Table(
    "sent_papers",
    metadata,
    Column(
        "subscription_id",
        Integer,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("paper_id", String(255), nullable=False),
    Column("sent_at", TS, nullable=False),
    PrimaryKeyConstraint("subscription_id", "paper_id"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("last_started_at", TS),
    Column("last_finished_at", TS),
    Column("last_status", String(32)),
    Column("last_message", Text),
    Column("lease_owner", String(128)),
    Column("lease_until", TS),
    Column("interval_seconds", Float),
)

# Library and account imports started from the web: the upload is stored under the data dir
# and a background job (jobs/imports.py) takes the row's id, so the request answers at once.
import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # library | account | ids
    Column("filename", String(255), nullable=False),
    Column("collection", String(255)),
    Column("path", Text, nullable=False),  # the stored upload, relative to the data dir
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("stage", Text),  # progress, in words
    Column("report", JSON),
    Column("error", Text),
    Column("created_at", TS, nullable=False),
    Column("started_at", TS),
    Column("finished_at", TS),
    Index("ix_import_jobs_status", "status"),
)

# Community submissions: one per paper (the first member to submit it), shown as "submitted by".
# A deleted member's submissions stay, with user_id NULL ("deleted member").
submissions = Table(
    "submissions",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("submitted_at", TS, nullable=False),
    Column("day", Date, nullable=False, comment="the daily page it is on (UTC day)"),
    Index("ix_submissions_user", "user_id"),
    Index("ix_submissions_day", "day"),
)

# A member's claim to be one of a paper's authors: pending until an admin decides, or approved
# at once when their verified email domain or ORCID iD matches the paper (`how` says which).
author_claims = Table(
    "author_claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("author_name", String(512), nullable=False),
    Column("status", String(16), nullable=False, comment="pending|approved|rejected"),
    Column("how", String(32), comment="admin|email_domain|orcid"),
    Column("created_at", TS, nullable=False),
    Column("decided_at", TS),
    UniqueConstraint("paper_id", "user_id", name="uq_author_claims_paper_user"),
    Index("ix_author_claims_user", "user_id"),
    Index("ix_author_claims_status", "status"),
)

# Organisations admins made (HF's `organization` field names others, without a row here);
# `names` are the source spellings whose papers belong to it, `domains` its email domains.
organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(255), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("names", JSON, nullable=False),
    Column("domains", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
)

# Members an admin assigned to an organisation (claimed authors of its papers belong anyway).
org_members = Table(
    "org_members",
    metadata,
    Column("org_id", Integer, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TS, nullable=False),
    PrimaryKeyConstraint("org_id", "user_id"),
)

# Discussion (store/comments.py). A comment is never removed while its paper lives: deleting one
# blanks it (a placeholder keeps its replies readable), and a deleted member's comments stay
# with user_id NULL ("deleted member"). `html` is the sanitised rendering, made once at write
# time so a page with a long thread never renders Markdown.
comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("parent_id", Integer, ForeignKey("comments.id", ondelete="CASCADE")),
    Column("body", Text, nullable=False, comment="Markdown as written"),
    Column("html", Text, nullable=False, comment="sanitised HTML of body"),
    Column("upvotes", Integer, nullable=False, default=0),
    Column("created_at", TS, nullable=False),
    Column("edited_at", TS),
    Column("deleted_at", TS),
    Column("hidden_at", TS, comment="hidden by a moderator, or by a ban of its author"),
    Index("ix_comments_paper", "paper_id", "id"),
    Index("ix_comments_user", "user_id"),
    Index("ix_comments_created", "created_at"),
    sqlite_autoincrement=True,
)

comment_votes = Table(
    "comment_votes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TS, nullable=False),
    PrimaryKeyConstraint("user_id", "comment_id"),
    Index("ix_comment_votes_comment", "comment_id"),
)

comment_reports = Table(
    "comment_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("reason", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("resolved_at", TS),
    Column("resolution", String(16), comment="hidden|deleted|banned|dismissed"),
    UniqueConstraint("comment_id", "user_id", name="uq_comment_reports_comment_user"),
    Index("ix_comment_reports_open", "resolved_at"),
)

member_bans = Table(
    "member_bans",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("banned_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("reason", Text),
    Column("created_at", TS, nullable=False),
)

# The kinds of in-app notification; the column comment lists them (migration 0009 keeps it true).
NOTIFICATION_KINDS = ("reply", "mention", "authored_paper", "saved_paper", "followed_author")

# In-app notifications, and the mail ledger for each (store/notifications.py): one row per
# (member, dedupe key), so nobody is told about the same thing twice; the mail_* columns are
# claimed atomically like store/deliveries.py's rows, so each notification is mailed once.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(24), nullable=False, comment="|".join(NOTIFICATION_KINDS)),
    Column("dedupe", String(96), nullable=False, comment="what it is about: comment:7, paper:x"),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE")),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE")),
    Column("actor_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", TS, nullable=False),
    Column("read_at", TS),
    Column("mail_status", String(16), comment="pending|claimed|retry|sent|failed|skipped"),
    Column("gathered", Boolean, nullable=False, default=False, comment="mailed in a daily batch"),
    Column("mail_due_at", TS),
    Column("claimed_by", String(128)),
    Column("claimed_until", TS),
    Column("attempts", Integer, nullable=False, default=0),
    Column("message_id", String(255)),
    Column("mailed_at", TS),
    Column("last_error", Text),
    UniqueConstraint("user_id", "dedupe", name="uq_notifications_user_dedupe"),
    Index("ix_notifications_user_read", "user_id", "read_at"),
    Index("ix_notifications_mail", "mail_status", "mail_due_at"),
)

notification_settings = Table(
    "notification_settings",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("mail", String(16), nullable=False, default="instant", comment="instant|digest|off"),
    Column("muted", JSON, nullable=False, comment="kinds never mailed (one-click unsubscribe)"),
    Column("updated_at", TS, nullable=False),
)
