"""THE ingest use case: how every paper enters the store, whoever brings it.

`Ingest` is built once per process by the composition root and used by the CLI (import, sync,
demo), the worker's sync jobs, the admin's "add paper", library imports that fetch from arXiv
and member submissions. Each writes through `store.papers.upsert_records` and then tells
`on_stored` which papers changed, so the search indexes (and, for a few papers, their vectors)
are updated at once: a paper is searchable as soon as any caller has stored it. `on_added` is
told which papers are new to the store (the composition roots tell the followers of their
authors: community.notifications.notify_followers_of_new_papers).

Batching, progress, error reports and checkpoints:

Each batch is one transaction (see store.papers.upsert_records), so Ctrl-C or a kill leaves only
whole batches behind; a live sync saves its checkpoint only after the page it belongs to is
stored, so the next run resumes after the last stored page.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from tqdm import tqdm

from paperroute.models import InvalidPaperId, PaperRecord, canonical_id
from paperroute.sources.base import Item, Page, RecordError, Source, SourceError
from paperroute.store.papers import UpsertResult, get_sync_state, set_sync_state, upsert_records

DEFAULT_BATCH = 2000
# Told the ids of papers an ingest added or changed (the search service indexes them).
OnStored = Callable[[list[str]], Any]
MAX_ERRORS_KEPT = 1000


@dataclass
class IngestReport:
    """What an import or sync did."""

    records: int = 0
    result: UpsertResult = field(default_factory=UpsertResult)
    errors: list[RecordError] = field(default_factory=list)
    error_count: int = 0
    interrupted: bool = False
    failure: str | None = None  # why reading stopped early (a cut file); what came before is kept

    @property
    def imported_nothing(self) -> bool:
        """True when records were offered but none could be stored (all rejected)."""
        return self.records == 0 and self.error_count > 0

    def add_error(self, error: RecordError) -> None:
        """Count an error, keeping the first ones for the report."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def summary(self) -> str:
        """One line for humans."""
        r = self.result
        text = (
            f"{self.records} records: {r.added} papers added, {r.updated} updated, "
            f"{r.unchanged} unchanged, {self.error_count} rejected"
        )
        return text + (" (interrupted)" if self.interrupted else "")


@contextlib.contextmanager
def _fewer_gc_pauses() -> Iterator[None]:
    """Collect garbage less often while importing.

    An import allocates millions of small, acyclic objects; CPython's default gen-0 threshold (700)
    made the cyclic collector rescan them all the time, which cost 40% of import time. Reference
    counting still frees everything; a full collection runs once at the end.
    """
    old = gc.get_threshold()
    gc.set_threshold(200_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.collect()


def _progress(total: int | None, desc: str, enabled: bool) -> tqdm:
    return tqdm(
        total=total,
        desc=desc,
        unit=" rec",
        unit_scale=True,
        disable=not enabled,
        dynamic_ncols=True,
    )


def _store_batch(engine: Engine, batch: list[PaperRecord], report: IngestReport, bar: tqdm) -> None:
    result = upsert_records(engine, batch)
    report.result += result
    report.records += len(batch)
    bar.update(len(batch))
    bar.set_postfix(
        added=report.result.added, updated=report.result.updated, rejected=report.error_count
    )


def ingest_items(
    engine: Engine,
    items: Iterable[Item],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = True,
    desc: str = "import",
    on_error: Callable[[RecordError], None] | None = None,
) -> IngestReport:
    """Store the records of `items` in batches, collect RecordErrors, stop cleanly on Ctrl-C.

    A SourceError while reading (the file broke off) stores the records read before it and is
    reported in `report.failure`; a SourceError before the first item (read_file) still raises.
    """
    report = IngestReport()
    batch: list[PaperRecord] = []
    with _fewer_gc_pauses(), _progress(None, desc, progress) as bar:
        try:
            for item in items:
                if isinstance(item, RecordError):
                    report.add_error(item)
                    if on_error:
                        on_error(item)
                    continue
                batch.append(item)
                if len(batch) >= batch_size:
                    _store_batch(engine, batch, report, bar)
                    batch = []
            if batch:
                _store_batch(engine, batch, report, bar)
        except KeyboardInterrupt:
            # The batch in flight was rolled back by its transaction; earlier batches are whole.
            report.interrupted = True
        except SourceError as exc:  # the file broke off (a cut gzip, bad XML): keep what was read
            report.failure = str(exc)
            if batch:
                _store_batch(engine, batch, report, bar)
    return report


def ingest_source(
    engine: Engine,
    source: Source,
    *,
    checkpoint_key: str | None = None,
    progress: bool = True,
    on_error: Callable[[RecordError], None] | None = None,
) -> IngestReport:
    """Run a live source page by page, saving its checkpoint after each stored page."""
    checkpoint = get_sync_state(engine, checkpoint_key) if checkpoint_key else None
    report = IngestReport()
    with _fewer_gc_pauses(), _progress(None, f"sync {source.name}", progress) as bar:
        try:
            for page in source.pages(checkpoint):
                _store_page(engine, page, report, bar, on_error)
                if checkpoint_key:
                    set_sync_state(engine, checkpoint_key, None if page.done else page.checkpoint)
        except KeyboardInterrupt:
            report.interrupted = True
    return report


def _store_page(
    engine: Engine,
    page: Page,
    report: IngestReport,
    bar: tqdm,
    on_error: Callable[[RecordError], None] | None,
) -> None:
    records = []
    for item in page.items:
        if isinstance(item, RecordError):
            report.add_error(item)
            if on_error:
                on_error(item)
        else:
            records.append(item)
    if records:
        _store_batch(engine, records, report, bar)


def iter_records(items: Iterable[Item]) -> Iterator[PaperRecord]:
    """Only the records of an item stream (errors dropped)."""
    return (i for i in items if isinstance(i, PaperRecord))


def checkpoint_key_for(source_name: str, params: dict[str, Any]) -> str:
    """A stable sync_state key for a source and its parameters."""
    parts = ",".join(f"{k}={params[k]}" for k in sorted(params) if params[k] is not None)
    return f"{source_name}:{parts}"


@dataclass
class Fetched:
    """What fetching papers by id from a live source stored, and what it could not fetch."""

    result: UpsertResult = field(default_factory=UpsertResult)
    problems: list[str] = field(default_factory=list)  # failures and rejected records, in words
    missing: list[str] = field(default_factory=list)  # ids the source answered without a paper

    def explain(self) -> str | None:
        """Why nothing was stored, in words for the person who asked; None when all was."""
        reasons = self.problems + [f"arXiv has no paper {pid}" for pid in self.missing]
        return "; ".join(reasons) or None


class Ingest:
    """The one ingest use case (see the module docstring); built once per process."""

    def __init__(
        self, engine: Engine, settings: Any = None, on_stored: OnStored | None = None,
        on_added: OnStored | None = None,
    ):  # fmt: skip
        self.engine = engine
        self.settings = settings  # the arXiv API's endpoint and politeness, for `arxiv`
        self.on_stored = on_stored
        self.on_added = on_added

    def records(self, records: Iterable[PaperRecord]) -> UpsertResult:
        """Store records in one transaction and make the changed papers searchable."""
        result = upsert_records(self.engine, records)
        self._stored(result)
        return result

    def items(self, items: Iterable[Item], **options: Any) -> IngestReport:
        """Store a file's item stream in batches (see `ingest_items`), then index what changed."""
        report = ingest_items(self.engine, items, **options)
        self._stored(report.result)
        return report

    def source(self, source: Source, **options: Any) -> IngestReport:
        """Run a live source page by page (see `ingest_source`), then index what changed."""
        report = ingest_source(self.engine, source, **options)
        self._stored(report.result)
        return report

    def arxiv(self, ids: Iterable[str]) -> Fetched:
        """Fetch papers by arXiv id or URL from the arXiv API and store them.

        Never raises for a network or source failure: it is returned in `problems`, worded for
        the person who asked (the admin page, a submission form, a library import report).
        """
        from paperroute.sources.arxiv_api import ArxivAPISource

        fetched = Fetched()
        wanted: list[str] = []
        for raw in ids:
            try:
                wanted.append(canonical_id(raw))
            except InvalidPaperId as exc:
                fetched.problems.append(str(exc))
        wanted = list(dict.fromkeys(wanted))
        if not wanted:
            return fetched
        try:
            source = ArxivAPISource.from_settings(self.settings, ids=wanted)
            items = [item for page in source.pages() for item in page.items]
        except Exception as exc:  # HTTP error, unreachable server: say so, store nothing
            fetched.problems.append(f"could not fetch {', '.join(wanted[:3])} from arXiv: {exc}")
            return fetched
        records = [i for i in items if isinstance(i, PaperRecord)]
        fetched.problems.extend(str(i) for i in items if isinstance(i, RecordError))
        fetched.missing = sorted(set(wanted) - {r.id for r in records})
        if records:
            fetched.result = self.records(records)
        return fetched

    def _stored(self, result: UpsertResult) -> None:
        changed = sorted(result.changed_ids)
        if changed and self.on_stored is not None:
            self.on_stored(changed)
        added = sorted(result.added_ids)
        if added and self.on_added is not None:
            self.on_added(added)
