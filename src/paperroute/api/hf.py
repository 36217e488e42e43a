"""Papers in Hugging Face's JSON shapes, so `huggingface_hub` and HF bots read paperroute as-is.

`paper_object` is HF's `paper` (what `GET /api/papers/{id}` returns); `daily_entry` wraps it the way
`GET /api/daily_papers` does. Upvotes are the total (Hugging Face + local); the split is kept under
`paperroute` so clients that know it can show both.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from paperroute.models import Paper, Submission
from paperroute.store.orgs import slugify


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _daily_time(paper: Paper) -> str | None:
    if paper.submission is not None:  # a member put it on the daily page at this time
        return _iso(paper.submission.at)
    if paper.announced:
        return _iso(datetime.combine(paper.announced, time(0), tzinfo=UTC))
    return _iso(paper.published)


def submitter_object(found: Submission) -> dict:
    """HF's user object (`submittedOnDailyBy`) for the member who submitted a paper."""
    return {
        "user": found.handle or "deleted-member",
        "fullname": found.name,
        "avatarUrl": "",
        "type": "user",
        "isPro": False,
    }


def organization_object(name: str) -> dict:
    """HF's organisation object for a paper's organisation (`name` is our page's slug)."""
    return {"name": slugify(name), "fullname": name, "avatarUrl": ""}


def paper_object(paper: Paper) -> dict:
    """HF's `paper` object."""
    out = {
        "id": paper.id,
        "authors": [{"name": a.name, "hidden": False} for a in paper.authors],
        "publishedAt": _iso(paper.published),
        "submittedOnDailyAt": _daily_time(paper),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.total_upvotes,
        "ai_keywords": paper.keywords,
        "numComments": paper.num_comments,
        # HF's id of its own discussion thread; paperroute's discussion is local, so none.
        "discussionId": None,
        "paperroute": {
            "hf_upvotes": paper.hf_upvotes,
            "local_upvotes": paper.upvotes,
            "saves": paper.saves,
            "categories": paper.categories,
            "announced": paper.announced.isoformat() if paper.announced else None,
        },
    }
    if paper.ai_summary:
        out["ai_summary"] = paper.ai_summary
    if paper.project_url:
        out["projectPage"] = paper.project_url
    if paper.code_url:
        out["githubRepo"] = paper.code_url
    if paper.github_stars is not None:
        out["githubStars"] = paper.github_stars
    if paper.submission is not None:
        out["submittedOnDailyBy"] = submitter_object(paper.submission)
    if paper.organization:
        out["organization"] = organization_object(paper.organization)
    return out


def daily_entry(paper: Paper) -> dict:
    """One element of HF's `/api/daily_papers` list."""
    entry = {
        "paper": paper_object(paper),
        "publishedAt": _daily_time(paper),
        "title": paper.title,
        "summary": paper.abstract,
        "numComments": paper.num_comments,
        "isAuthorParticipating": False,
    }
    if paper.submission is not None:  # huggingface_hub reads the entry's own `submittedBy`
        entry["submittedBy"] = submitter_object(paper.submission)
    return entry
