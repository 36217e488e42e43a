"""Response shapes of the JSON API, for the OpenAPI document (/openapi.json, /docs).

The routes return Hugging Face's own JSON shapes as plain dicts (so HF clients read them as-is);
these models describe those shapes, with examples taken from the bundled demo corpus so every
example in /docs answers on a fresh instance. `extra="allow"`: HF adds fields over time.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Real ids and days of the demo corpus (src/paperroute/data/demo_papers.jsonl.gz).
DEMO_DAY = "2026-08-21"
DEMO_WEEK = "2026-W34"
DEMO_MONTH = "2026-08"
DEMO_PAPER = "2608.19880"
DEMO_QUERY = "agent environments"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AuthorOut(_Open):
    """One author."""

    name: str
    hidden: bool = False


class SubmitterOut(_Open):
    """The member who submitted a paper, in Hugging Face's user shape."""

    user: str = Field(description="the member's handle (deleted-member once deleted)")
    fullname: str
    avatarUrl: str = ""
    type: str = "user"


class OrganizationOut(_Open):
    """A paper's organisation, in Hugging Face's shape (`name` is the /orgs/<slug> slug)."""

    name: str
    fullname: str
    avatarUrl: str = ""


class LocalCounts(_Open):
    """paperroute's own numbers for a paper."""

    hf_upvotes: int
    local_upvotes: int
    saves: int
    categories: list[str]
    announced: str | None = Field(None, description="YYYY-MM-DD")


class PaperOut(_Open):
    """A paper in Hugging Face's `paper` shape."""

    id: str = Field(examples=[DEMO_PAPER])
    title: str
    summary: str = Field(description="the abstract")
    authors: list[AuthorOut]
    publishedAt: str | None = None
    submittedOnDailyAt: str | None = None
    upvotes: int = Field(description="Hugging Face and local upvotes together")
    ai_keywords: list[str] = []
    numComments: int = Field(0, description="comments in this paperroute's discussion")
    discussionId: str | None = Field(None, description="Hugging Face's thread id; null here")
    ai_summary: str | None = Field(None, description="the source's machine-written summary")
    githubRepo: str | None = None
    githubStars: int | None = None
    projectPage: str | None = None
    submittedOnDailyBy: SubmitterOut | None = Field(None, description="who submitted it")
    organization: OrganizationOut | None = None
    paperroute: LocalCounts


class DailyEntry(_Open):
    """One element of `/api/daily_papers`, as Hugging Face sends it."""

    paper: PaperOut
    title: str
    summary: str
    publishedAt: str | None = None
    numComments: int = Field(0, description="comments in this paperroute's discussion")
    isAuthorParticipating: bool = False
    submittedBy: SubmitterOut | None = Field(None, description="who submitted it")


class TrendingScore(_Open):
    """A trending score and its parts."""

    score: float
    explain: str


class TrendingEntry(DailyEntry):
    """A daily entry with its trending score."""

    trending: TrendingScore


class CollectionOut(_Open):
    """A collection."""

    id: int
    name: str
    public: bool
    description: str
    size: int
    papers: list[PaperOut] | None = Field(None, description="only on a single collection")


class SavedOut(BaseModel):
    """Whether the paper was saved (false: it was already there)."""

    collection_id: int
    paper_id: str
    added: bool


class RemovedOut(BaseModel):
    """Whether the paper was taken out (false: it was not there)."""

    collection_id: int
    paper_id: str
    removed: bool


class Recommendation(_Open):
    """A recommended paper and why."""

    paper: PaperOut
    reason: dict


class RecommendationsOut(_Open):
    """Your recommendations for a window of days."""

    window: str
    tag: str | None
    cold_start: bool
    message: str | None = None
    candidates: int
    took_ms: float
    items: list[Recommendation]


class SubmittedOut(BaseModel):
    """The paper a member submitted to the daily page."""

    paper: PaperOut


class ErrorOut(BaseModel):
    """What went wrong, in words."""

    error: str


ERRORS = {
    404: {"model": ErrorOut, "description": "Not found"},
    422: {"model": ErrorOut, "description": "Invalid input"},
}
AUTH_ERRORS = {401: {"model": ErrorOut, "description": "No or wrong API token"}, **ERRORS}


def answers(model: object, errors: dict | None = None, status: int = 200) -> dict:
    """`responses=` for a route: its success shape and errors, documented without re-validating
    what the route returns (HF clients rely on exactly the fields HF sends)."""
    return {status: {"model": model}, **(ERRORS if errors is None else errors)}
