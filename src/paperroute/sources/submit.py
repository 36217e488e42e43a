"""A member submits a paper: THE ingest use case fetches and stores it, the store records who.

Called by the submission form (web/routes/submit.py) and the API (api/routes.py), so both apply
the same limits in the same order: nothing is fetched for a paper someone already submitted or
for a member over quota, and a paper arXiv cannot give gets the ingest's own explanation.
"""

from __future__ import annotations

from datetime import datetime

from paperroute.models import InvalidPaperId, canonical_id
from paperroute.sources.ingest import Ingest
from paperroute.store.papers import get_paper
from paperroute.store.submissions import (
    Limits,
    SubmissionError,
    check_submission,
    record_submission,
)
from paperroute.store.users import User


def submit_paper(
    ingest: Ingest, user: User, raw: str, limits: Limits, now: datetime | None = None
) -> str:
    """Submit the paper named by an arXiv id or URL; its id, or SubmissionError saying why not."""
    try:
        paper_id = canonical_id(raw)
    except InvalidPaperId as exc:
        raise SubmissionError(f"arxiv: {exc}") from None
    check_submission(ingest.engine, user, paper_id, limits, now)
    if get_paper(ingest.engine, paper_id) is None:  # a paper already held is not fetched again
        fetched = ingest.arxiv([paper_id])  # stored, indexed and embedded
        if fetched.explain():
            raise SubmissionError(f"arXiv API: {fetched.explain()}")
    record_submission(ingest.engine, user, paper_id, limits, now)
    return paper_id
