"""Writing what sources yield into the store: batching, progress, error reports, checkpoints.

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

from paperroute.models import PaperRecord
from paperroute.sources.base import Item, Page, RecordError, Source, SourceError
from paperroute.store.papers import UpsertResult, get_sync_state, set_sync_state, upsert_records

DEFAULT_BATCH = 2000
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
