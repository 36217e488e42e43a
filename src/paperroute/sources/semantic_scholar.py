"""Semantic Scholar Graph API enrichment: citation counts, influential citations, TLDR and
external ids, 500 papers per POST /graph/v1/paper/batch.

Records are tied to the stored paper that was asked about (their `id` is that paper's id), so an
enrichment never creates a paper; their `source` "semantic_scholar" is each value's provenance.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from paperroute.models import PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import checked
from paperroute.sources.http import HttpClient
from paperroute.sources.scholarly import (
    arxiv_from,
    identifiers_of,
    int_of,
    listing,
    load_json,
    mapping,
    normalise_doi,
    text_of,
)

NAME = "semantic_scholar"
BATCH = 500  # the batch endpoint's limit
FIELDS = "externalIds,citationCount,influentialCitationCount,tldr,venue,year,url"


def lookup_id(target: dict[str, Any]) -> str | None:
    """How Semantic Scholar is asked for a stored paper: ARXIV:<id>, else DOI:<doi>."""
    if target.get("arxiv"):
        return f"ARXIV:{target['arxiv']}"
    if target.get("doi"):
        return f"DOI:{target['doi']}"
    return None


def record_from_paper(paper: Any, paper_id: str, number: int) -> Item:
    """A Graph API paper object as an enrichment record for stored paper `paper_id`."""
    if not isinstance(paper, dict):
        return RecordError(NAME, "Semantic Scholar does not know this paper", number, paper_id)
    ext = mapping(paper.get("externalIds"))
    pmcid = text_of(ext.get("PubMedCentral"))
    record = PaperRecord(
        source=NAME,
        id=paper_id,
        identifiers=identifiers_of(
            s2=text_of(paper.get("paperId")),
            arxiv=arxiv_from(text_of(ext.get("ArXiv"))),
            doi=normalise_doi(text_of(ext.get("DOI"))),
            pmid=text_of(str(ext["PubMed"])) if ext.get("PubMed") is not None else None,
            pmcid=f"PMC{pmcid.removeprefix('PMC')}" if pmcid else None,
            acl=text_of(ext.get("ACL")),
        ),
        citation_count=int_of(paper.get("citationCount")),
        influential_citations=int_of(paper.get("influentialCitationCount")),
        tldr=text_of(mapping(paper.get("tldr")).get("text")),
    )
    return checked(record, number, paper_id)


def parse_batch(content: bytes, paper_ids: Sequence[str], *, first_record: int = 1) -> list[Item]:
    """The batch reply (a list aligned with the ids asked, null for unknown papers)."""
    body = load_json(content, NAME)
    if not isinstance(body, list):
        reason = text_of(mapping(body).get("error")) or text_of(mapping(body).get("message"))
        raise SourceError(f"{NAME}: batch reply is not a list: {reason or 'no reason given'}")
    if len(body) != len(paper_ids):
        raise SourceError(f"{NAME}: asked for {len(paper_ids)} papers, got {len(body)} answers")
    return [
        record_from_paper(paper, pid, n)
        for n, (paper, pid) in enumerate(
            zip(listing(body), paper_ids, strict=True), start=first_record
        )
    ]


class SemanticScholarEnrichment:
    """Citation counts, TLDRs and identifiers for the given stored papers, in batches."""

    name = NAME

    def __init__(
        self,
        targets: Sequence[dict[str, Any]],
        *,
        api_key: str | None = None,
        base_url: str = "https://api.semanticscholar.org",
        batch: int = BATCH,
        client: HttpClient | None = None,
    ) -> None:
        self.targets = [(t["id"], q) for t in targets if (q := lookup_id(t))]
        self.api_key, self.batch = api_key, min(batch, BATCH)
        self.base_url = base_url.rstrip("/")
        self.client = client or HttpClient(source=NAME, min_interval=1.0)

    @classmethod
    def from_settings(
        cls, settings: Any, targets: Sequence[dict[str, Any]]
    ) -> SemanticScholarEnrichment:
        """An enrichment with the configured endpoint, key and delay."""
        key = (
            settings.semantic_scholar_api_key.get_secret_value()
            if settings.semantic_scholar_api_key
            else None
        )
        client = HttpClient.from_settings(
            settings, source=NAME, min_interval=settings.semantic_scholar_delay
        )
        return cls(
            targets, api_key=key or None, base_url=settings.semantic_scholar_url, client=client
        )

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """One page per batch (the checkpoint is unused: the next run asks the store again)."""
        headers = {"x-api-key": self.api_key} if self.api_key else None
        for start in range(0, len(self.targets), self.batch):
            chunk = self.targets[start : start + self.batch]
            reply = self.client.post(
                f"{self.base_url}/graph/v1/paper/batch",
                {"ids": [q for _, q in chunk]},
                params={"fields": FIELDS},
                headers=headers,
            )
            items = parse_batch(reply.content, [pid for pid, _ in chunk], first_record=start + 1)
            yield Page(items=items, done=start + self.batch >= len(self.targets))
