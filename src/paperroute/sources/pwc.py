"""Papers with Code API v1 enrichment: code links (official repository first) and tasks.

For each stored paper with an arXiv id: GET /papers/?arxiv_id=<id> finds the PwC paper, then
/papers/<slug>/repositories/ and /papers/<slug>/tasks/. Records are tied to the stored paper
(`id` = its id) with source "pwc". The public API was retired in 2025; the base URL is a
setting so a mirror can stand in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from paperroute.models import PaperRecord
from paperroute.sources.base import Item, Page, RecordError
from paperroute.sources.common import checked
from paperroute.sources.http import HttpClient
from paperroute.sources.scholarly import int_of, listing, load_json, mapping, text_of

NAME = "pwc"


def results(content: bytes) -> list[dict[str, Any]]:
    """The `results` of a paginated PwC reply (an error body raises SourceError)."""
    return [mapping(r) for r in listing(mapping(load_json(content, NAME)).get("results"))]


def record_from_pwc(
    paper_id: str, repos: list[dict[str, Any]], tasks: list[dict[str, Any]], number: int
) -> Item:
    """The code link (official first, then most stars) and tasks of one stored paper."""
    ranked = sorted(repos, key=lambda r: (not r.get("is_official"), -(int_of(r.get("stars")) or 0)))
    best = next((r for r in ranked if text_of(r.get("url"))), None)
    names = [n for n in (text_of(t.get("name")) for t in tasks) if n]
    if best is None and not names:
        return RecordError(NAME, "Papers with Code lists no code or tasks", number, paper_id)
    record = PaperRecord(
        source=NAME,
        id=paper_id,
        code_url=text_of(best.get("url")) if best else None,
        github_stars=int_of(best.get("stars")) if best else None,
        tasks=names,
    )
    return checked(record, number, paper_id)


class PapersWithCodeEnrichment:
    """Code links and tasks for stored papers with arXiv ids, one paper per page."""

    name = NAME

    def __init__(
        self,
        targets: Sequence[dict[str, Any]],
        *,
        base_url: str = "https://paperswithcode.com/api/v1",
        client: HttpClient | None = None,
    ) -> None:
        self.targets = [t for t in targets if t.get("arxiv")]
        self.base_url = base_url.rstrip("/")
        self.client = client or HttpClient(source=NAME, min_interval=1.0)

    @classmethod
    def from_settings(
        cls, settings: Any, targets: Sequence[dict[str, Any]]
    ) -> PapersWithCodeEnrichment:
        """An enrichment with the configured endpoint, timeout and retries."""
        client = HttpClient.from_settings(settings, source=NAME, min_interval=1.0)
        return cls(targets, base_url=settings.pwc_url, client=client)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """One page per paper (the next run asks the store again, so no checkpoint)."""
        for number, target in enumerate(self.targets, start=1):
            found = results(
                self.client.get(f"{self.base_url}/papers/", {"arxiv_id": target["arxiv"]}).content
            )
            slug = text_of(found[0].get("id")) if found else None
            if not slug:
                item: Item = RecordError(NAME, "not on Papers with Code", number, target["id"])
            else:
                base = f"{self.base_url}/papers/{quote(slug, safe='')}"
                repos = results(self.client.get(f"{base}/repositories/").content)
                tasks = results(self.client.get(f"{base}/tasks/").content)
                item = record_from_pwc(target["id"], repos, tasks, number)
            yield Page(items=[item], done=number == len(self.targets))
