"""Import a reference-manager library into a reader's collection.

Entries are matched to papers by arXiv id, then DOI, then normalised title. arXiv ids the store
does not hold yet are fetched and stored by the one ingest use case (`sources.ingest.Ingest.arxiv`,
injected as `fetch` because library and sources are sibling packages; tests point it at recorded
responses on a loopback server), so fetched papers are searchable at once. Importing the same
file twice adds nothing: the collection already holds every matched paper.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine

from paperroute.references.formats import (
    Entry,
    EntryError,
    Parsed,
    decode,
    find_arxiv_id,
    parse_library,
)
from paperroute.store import collections as coll
from paperroute.store import matching as store


class _Stored(Protocol):
    added: int


class FetchOutcome(Protocol):
    """What a fetch stored (`result.added`) and what it could not fetch, in words."""

    result: _Stored
    problems: list[str]


# Takes arXiv ids, fetches and stores them (Ingest.arxiv), says what happened.
Fetcher = Callable[[Sequence[str]], FetchOutcome]
# Told how far an import got, in words ("matching 3,000 entries"); the web shows it.
Progress = Callable[[str], None]


def _quiet(_stage: str) -> None:
    """The default Progress: nobody is watching."""


@dataclass
class ImportReport:
    """What an import did, in words a reader can act on."""

    format: str
    collection_id: int | None = None
    entries: int = 0
    matched: list[str] = field(default_factory=list)  # paper ids, file order
    added: int = 0  # newly saved into the collection
    fetched: int = 0  # papers fetched from arXiv
    unmatched: list[str] = field(default_factory=list)  # "line 12 (key): title"
    errors: list[EntryError] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the page or the terminal."""
        return (
            f"{self.entries} entries: {len(self.matched)} matched ({self.added} newly saved, "
            f"{self.fetched} fetched from arXiv), {len(self.unmatched)} not found, "
            f"{len(self.errors)} malformed"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the web's import page and its JSON twin)."""
        return {
            "format": self.format,
            "summary": self.summary(),
            "collection_id": self.collection_id,
            "entries": self.entries,
            "matched": self.matched,
            "added": self.added,
            "fetched": self.fetched,
            "unmatched": self.unmatched,
            "errors": [str(e) for e in self.errors],
        }


def match_entries(
    engine: Engine,
    entries: Sequence[Entry],
    fetch: Fetcher | None = None,
    progress: Progress = _quiet,
) -> tuple[dict[int, str], int, list[str]]:
    """Paper id per entry index, how many papers were fetched, and fetch problems."""
    arxiv_ids = sorted({e.arxiv_id for e in entries if e.arxiv_id})
    known = store.known_paper_ids(engine, arxiv_ids)
    fetched, problems = 0, []
    unknown = [i for i in arxiv_ids if i not in known]
    if unknown and fetch is not None:
        progress(f"fetching {len(unknown):,} papers from arXiv")
        fetched, problems = _fetch_into_store(unknown, fetch)
        known = store.known_paper_ids(engine, arxiv_ids)
    found: dict[int, str] = {}
    for n, e in enumerate(entries):
        if e.arxiv_id in known:
            found[n] = e.arxiv_id
    rest = [(n, e) for n, e in enumerate(entries) if n not in found]
    by_doi = store.ids_by_doi(engine, [e.doi for _, e in rest if e.doi])
    for n, e in rest:
        if e.doi and e.doi in by_doi:
            found[n] = by_doi[e.doi]
    rest = [(n, e) for n, e in rest if n not in found and e.title]
    by_title = store.ids_by_title(engine, [e.title or "" for _, e in rest])
    for n, e in rest:
        pid = by_title.get(store.title_key(e.title or ""))
        if pid:
            found[n] = pid
    return found, fetched, problems


def _fetch_into_store(ids: list[str], fetch: Fetcher) -> tuple[int, list[str]]:
    outcome = fetch(ids)
    return outcome.result.added, outcome.problems


def import_library(
    engine: Engine,
    user_id: int,
    data: bytes | str,
    *,
    collection: str = "Imported",
    fmt: str | None = None,
    filename: str = "",
    fetch: Fetcher | None = None,
    progress: Progress = _quiet,
) -> ImportReport:
    """Parse a library file, match its entries and save the matches into `collection`."""
    progress(f"reading {len(data):,} characters")
    text = decode(data) if isinstance(data, bytes) else data
    parsed = parse_library(text, fmt, filename)
    return import_entries(engine, user_id, parsed, collection, fetch, progress)


def import_ids(
    engine: Engine,
    user_id: int,
    text: str,
    collection: str = "Starter",
    fetch: Fetcher | None = None,
    progress: Progress = _quiet,
) -> ImportReport:
    """Save pasted arXiv ids or URLs (one per line, or separated by spaces/commas)."""
    parsed = Parsed("arxiv-ids")
    for number, line in enumerate(text.splitlines(), 1):
        for token in re.split(r"[\s,;]+", line.strip()):
            if not token:
                continue
            found = find_arxiv_id(token)
            if found:
                parsed.entries.append(Entry(line=number, arxiv_id=found, title=token))
            else:
                parsed.errors.append(EntryError(number, f"not an arXiv id: {token!r}"))
    return import_entries(engine, user_id, parsed, collection, fetch, progress)


def import_entries(
    engine: Engine,
    user_id: int,
    parsed: Parsed,
    collection: str,
    fetch: Fetcher | None,
    progress: Progress = _quiet,
) -> ImportReport:
    """Match parsed entries to papers and save the matches into the user's collection."""
    report = ImportReport(format=parsed.format, entries=len(parsed.entries) + len(parsed.errors))
    report.errors = list(parsed.errors)
    progress(f"matching {len(parsed.entries):,} entries")
    found, report.fetched, problems = match_entries(engine, parsed.entries, fetch, progress)
    report.errors.extend(EntryError(0, p) for p in problems)
    report.matched = list(dict.fromkeys(found[n] for n in sorted(found)))
    report.unmatched = [
        f"{e.label}: {e.title or e.doi or e.arxiv_id}"
        for n, e in enumerate(parsed.entries)
        if n not in found
    ]
    if report.matched:
        progress(f"saving {len(report.matched):,} papers into {collection!r}")
        report.collection_id, report.added = coll.save_into_collection(
            engine, user_id, collection, report.matched
        )
    return report
