"""Plain data shared by every layer: what a source observed about a paper, and the merged paper.

No I/O here. Sources produce `PaperRecord`s (one observation by one source); the store merges
them into `Paper`s keyed by canonical arXiv id.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import quote

# New-style ids (0704.0001 .. 2403.17377) and old-style ids (hep-th/9901001, math.AG/0601001).
_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d{1,6}))?"
_PREFIX = r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/|arxiv:|oai:arxiv\.org:"
# A whole string that is an id, an `arXiv:` id or an arXiv URL (".pdf", "/", "?query" allowed).
_WHOLE_ID = re.compile(rf"(?:{_PREFIX})?\s*{_ID}(?:\.pdf)?/?(?:[?#]\S*)?", re.IGNORECASE)
# An id inside free text (a BibTeX note): only after an arXiv prefix, and never followed by more
# id characters, so "2501.100000" or "2501.10000v2x" is not read as 2501.10000.
_ID_IN_TEXT = re.compile(rf"(?:{_PREFIX})\s*{_ID}(?![\w\-]|\.\d)", re.IGNORECASE)


# Identifier schemes a paper can carry, best first: a paper without an arXiv id is keyed by the
# first scheme it has (see record_key). Each (scheme, value) names at most one paper.
IDENTIFIER_SCHEMES = (
    "arxiv",
    "doi",
    "acl",
    "pmid",
    "pmcid",
    "biorxiv",
    "openreview",
    "s2",
    "openalex",
)


def record_key(identifiers: dict[str, str]) -> str:
    """The store key of a paper with these identifiers: the arXiv id, else "<scheme>:<value>" of
    the best scheme it has (DOI first). Raises ValueError when it has none."""
    for scheme in IDENTIFIER_SCHEMES:
        value = identifiers.get(scheme)
        if value:
            return value if scheme == "arxiv" else f"{scheme}:{value}"
    raise ValueError("a paper needs at least one identifier")


@lru_cache(maxsize=65536)  # a paper page links to itself ~8 times; quote() is ~2 us each
def paper_path(paper_id: str) -> str:
    """The URL path of a paper's page, the one place every link to a paper is made:
    /papers/<arXiv id>, else /papers/<scheme>/<value> (/papers/doi/10.18653/v1/2024.acl-long.1)."""
    scheme, sep, value = paper_id.partition(":")
    if sep and scheme in IDENTIFIER_SCHEMES:
        return f"/papers/{scheme}/{quote(value, safe=PATH_SAFE)}"
    return f"/papers/{quote(paper_id, safe=PATH_SAFE)}"


# Characters a DOI keeps unescaped in a path; the rest (#, ?, %, space, <, >) are escaped.
PATH_SAFE = "/:;()[]._-+=,@!$&'*~"


class InvalidPaperId(ValueError):
    """A string that is not an arXiv identifier."""


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Return (canonical id without version, version or None) for an id, URL or `arXiv:` form.

    The whole string must be the id (or an arXiv URL of it); inside longer text only an id after
    an arXiv prefix counts. Anything else raises InvalidPaperId.
    """
    text = (raw or "").strip()
    match = _WHOLE_ID.fullmatch(text) or _ID_IN_TEXT.search(text)
    if not match or not _case_ok(match.group("id")):
        raise InvalidPaperId(f"not an arXiv id: {raw!r}")
    version = int(match.group("v")) if match.group("v") else None
    return match.group("id"), version


def _case_ok(paper_id: str) -> bool:
    """Old-style archive names are lower case and subject classes upper case (math.AG/0601001)."""
    if "/" not in paper_id:
        return True
    archive = paper_id.split("/", 1)[0]
    name, _, subject = archive.partition(".")
    return name.islower() and (not subject or subject.isupper())


def canonical_id(raw: str) -> str:
    """Return the canonical arXiv id (no version) for an id or URL."""
    return split_arxiv_id(raw)[0]


def is_arxiv_id(raw: str) -> bool:
    """True when the whole string is an arXiv id or arXiv URL."""
    try:
        split_arxiv_id(raw)
    except InvalidPaperId:
        return False
    return True


@dataclass
class Author:
    """One author, in paper order."""

    name: str
    affiliations: list[str] = field(default_factory=list)


@dataclass
class Version:
    """One arXiv version of a paper as a source reported it."""

    version: int
    submitted: datetime | None = None
    title: str | None = None
    abstract: str | None = None
    size: str | None = None


@dataclass
class PaperRecord:
    """One observation of one paper by one source; fields a source does not know stay None/empty."""

    source: str
    id: str
    version: int | None = None
    title: str | None = None
    abstract: str | None = None
    authors: list[Author] = field(default_factory=list)
    primary_category: str | None = None
    categories: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    announced: date | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    github_stars: int | None = None
    upvotes: int | None = None
    keywords: list[str] = field(default_factory=list)
    ai_summary: str | None = None  # the source's machine-written summary (Hugging Face)
    organization: str | None = None  # the organisation a source credits (HF's display name)
    submitter: str | None = None
    versions: list[Version] = field(default_factory=list)
    announce_type: str | None = None
    observed_at: datetime | None = None
    # Beyond arXiv (issue 14). `id` stays the canonical arXiv id when the source knows one;
    # otherwise it is `record_key(identifiers)`, e.g. "doi:10.18653/v1/2024.acl-long.1".
    identifiers: dict[str, str] = field(
        default_factory=dict
    )  # scheme (IDENTIFIER_SCHEMES) -> value
    venue: str | None = None  # "ACL", "NeurIPS", a journal title
    year: int | None = None  # year of the venue / publication
    track: str | None = None  # oral, spotlight, poster, findings, long, short ...
    publication_type: str | None = None  # preprint, proceedings, journal
    issn: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    citation_count: int | None = None
    influential_citations: int | None = None
    tldr: str | None = None
    tasks: list[str] = field(default_factory=list)  # Papers with Code tasks
    bibtex: str | None = None  # the BibTeX exactly as the source gives it (ACL Anthology)

    def to_dict(self) -> dict:
        """Plain dict (dates as datetime objects)."""
        return asdict(self)


@dataclass
class Submission:
    """Who submitted a paper to the daily page, and when (`handle` None: a deleted member)."""

    handle: str | None
    name: str
    at: datetime

    @property
    def url(self) -> str | None:
        """The submitter's public profile page, if the member still exists."""
        return f"/members/{self.handle}" if self.handle else None


@dataclass
class Paper:
    """A paper as the store holds it: the merge of every record seen for one canonical id."""

    id: str
    title: str
    abstract: str
    authors: list[Author] = field(default_factory=list)
    primary_category: str | None = None
    categories: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    announced: date | None = None
    latest_version: int | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    github_stars: int | None = None
    hf_upvotes: int = 0
    upvotes: int = 0
    saves: int = 0
    num_comments: int = 0  # visible comments in the paper's discussion
    keywords: list[str] = field(default_factory=list)
    ai_summary: str | None = None
    organization: str | None = None
    submitter: str | None = None
    versions: list[Version] = field(default_factory=list)
    hidden: bool = False
    featured: bool = False
    # Beyond arXiv (issue 14): every identifier, the published version, enrichment with sources.
    identifiers: dict[str, str] = field(default_factory=dict)  # scheme -> value
    venue: str | None = None
    year: int | None = None
    track: str | None = None
    publication_type: str | None = None
    issn: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    citation_count: int | None = None
    influential_citations: int | None = None
    citations_source: str | None = None
    tldr: str | None = None
    tldr_source: str | None = None
    tasks: list[str] = field(default_factory=list)
    bibtex: str | None = None

    @property
    def arxiv_id(self) -> str | None:
        """The paper's arXiv id, when it has one (then it is also its store id)."""
        return self.identifiers.get("arxiv") or (None if ":" in self.id else self.id)

    @property
    def follow_tags(self) -> list[str]:
        """What a digest can follow this paper by: its categories, `venue:<venue>` and
        `journal:<ISSN>` (so venues and journals are followed the way categories are)."""
        tags = list(self.categories)
        if self.venue:
            tags.append(f"{'journal' if self.issn else 'venue'}:{self.venue}")
        if self.issn:
            tags.append(f"journal:{self.issn}")
        return tags

    submission: Submission | None = None  # a member's submission (store/submissions.py)

    @property
    def total_upvotes(self) -> int:
        """Hugging Face votes plus local votes, shown together."""
        return self.hf_upvotes + self.upvotes

    @property
    def author_names(self) -> list[str]:
        """Author names in order."""
        return [a.name for a in self.authors]


_WEB_URL = re.compile(r"https?://[^\s\x00-\x1f]+\Z", re.IGNORECASE)


def web_url(value: str | None) -> str | None:
    """`value` if it is an http(s) URL, else None: a link a page may carry (never `javascript:`,
    `data:` or a relative path that a source slipped in)."""
    return value if value and _WEB_URL.match(value.strip()) else None
