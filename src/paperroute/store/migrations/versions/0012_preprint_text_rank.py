"""Papers whose text came from a preprint without a version number get latest_version 0

store/merge now ranks a record's text: its arXiv version, 0 for a preprint that gives none (the
arXiv listing crawl, the Hugging Face archive), -1 for a published version's record (ACL,
Crossref, a journal feed), and keeps latest_version NULL only while a paper's text is the
published version's. Before, an unversioned preprint left it NULL too; this marks those papers
(any provenance observation that asserted a title or abstract and was not a published version's),
so that a published record imported later does not compete with their preprint text.

Revision ID: 0012
Revises: 0011
"""

import json

import sqlalchemy as sa
from alembic import op

from paperroute.store.merge import is_published_type

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BATCH = 500


def _preprint_text(fields_json: str) -> bool:
    fields = json.loads(fields_json)
    has_text = bool(fields.get("title") or fields.get("abstract"))
    return has_text and not is_published_type(fields.get("publication_type"))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT v.paper_id, v.fields FROM provenance v JOIN papers p ON p.id = v.paper_id"
            " WHERE p.latest_version IS NULL"
        )
    )
    marked = sorted({pid for pid, fields in rows if _preprint_text(fields)})
    update = sa.text("UPDATE papers SET latest_version = 0 WHERE id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)
    )
    for start in range(0, len(marked), _BATCH):
        bind.execute(update, {"ids": marked[start : start + _BATCH]})


def downgrade() -> None:
    # 0 meant nothing before this revision: back to NULL, as unversioned preprints left it.
    op.execute("UPDATE papers SET latest_version = NULL WHERE latest_version = 0")
