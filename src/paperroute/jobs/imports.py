"""Library and account imports started from the web, run in the background.

The upload is stored under `<data_dir>/uploads/` and recorded in `import_jobs`; the request then
answers at once with a page that follows the import. `run_import` takes only the row's id,
reloads the row and returns quietly if it is gone or already taken (linkding's task pattern),
so a deleted account, a second web process or a resumed queue never imports twice.
`ImportRunner` is the app's one worker thread for them; each import runs in a child process.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import secrets
import threading
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from paperroute.config import Settings
from paperroute.metrics import JOB_RUNS
from paperroute.references.formats import LibraryFileError
from paperroute.references.importer import import_ids, import_library
from paperroute.sources.ingest import Ingest, OnStored
from paperroute.store import account as account_store
from paperroute.store import imports
from paperroute.store.collections import CollectionError

log = logging.getLogger(__name__)

UPLOADS = "uploads"


class UploadTooLarge(ValueError):
    """The upload is over the size limit (nothing was kept)."""


def store_upload(settings: Settings, source: IO[bytes], limit: int) -> str:
    """Copy an uploaded file under the data dir; returns its path relative to the data dir."""
    folder = settings.data_dir / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(12)}.upload"
    target = folder / name
    size = 0
    with open(target, "wb") as out:
        while chunk := source.read(1 << 20):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        target.unlink()
        raise UploadTooLarge(f"over the {limit // (1024 * 1024)} MB limit")
    return f"{UPLOADS}/{name}"


def run_import(settings: Settings, engine: Engine, import_id: int) -> None:
    """Run one queued import to its end; quietly nothing if the row is gone or taken."""
    job = imports.get_import(engine, import_id)
    if job is None or not imports.claim_import(engine, import_id):
        return
    path = settings.data_dir / job.path
    try:
        report, error = _import(settings, engine, job, path)
    except Exception as exc:  # recorded for the reader instead of lost in a thread
        log.exception("import %s failed", import_id)
        report, error = None, f"the import stopped on an unexpected error ({type(exc).__name__})"
    imports.finish_import(engine, import_id, report, error)
    path.unlink(missing_ok=True)


def _import(
    settings: Settings, engine: Engine, job: imports.ImportJob, path: Path
) -> tuple[dict[str, Any] | None, str | None]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, "the uploaded file is gone; upload it again"

    def stage(text: str) -> None:
        imports.set_stage(engine, job.id, text)

    try:
        if job.kind == "library":
            report = import_library(
                engine,
                job.user_id,
                data,
                collection=job.collection or "Imported",
                filename=job.filename,
                fetch=Ingest(engine, settings).arxiv,
                progress=stage,
            )
            return report.to_dict(), None
        if job.kind == "ids":
            text = data.decode("utf-8", errors="replace")
            fetch = Ingest(engine, settings).arxiv
            report = import_ids(
                engine, job.user_id, text, job.collection or "Starter", fetch, stage
            )
            return report.to_dict(), None
        stage(f"reading {len(data):,} bytes")
        result = account_store.import_account(
            engine, job.user_id, account_store.load_account_file(data)
        )
        return vars(result), None
    except (LibraryFileError, CollectionError, account_store.AccountFileError) as exc:
        return None, str(exc)


def _run_in_child(settings: Settings, import_id: int) -> None:
    """A child process's whole life: its own engine, one import."""
    from paperroute.jobs import yield_cpu_to_requests
    from paperroute.store.engine import make_engine

    yield_cpu_to_requests()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        run_import(settings, engine, import_id)
    finally:
        engine.dispose()


class ImportRunner:
    """The app's import worker: one daemon thread that runs submitted imports in order, each in
    a child process.

    A child process, because parsing a 50 MB library is seconds of CPU-bound Python: in the web
    process it would hold the GIL and stall every page (read p95 355 ms under bench/load.py).
    One at a time, because the page handlers need the other core. `close` (shutdown) ends the
    child and puts its import back in the queue for the next start: the import saves its
    collection in one transaction, so cutting it short loses nothing.
    """

    def __init__(
        self, settings: Settings, engine: Engine, on_stored: OnStored | None = None
    ) -> None:
        self.settings, self.engine = settings, engine
        # The child stores fetched papers without indexing them (the index belongs to this
        # process); once it is done, this process makes them searchable through `on_stored`.
        self.on_stored = on_stored
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._current: int | None = None
        self._child: multiprocessing.process.BaseProcess | None = None
        # spawn, not fork: the web process has threads (ONNX, the thread pool) that fork would
        # copy in an unknown state.
        self._context = multiprocessing.get_context("spawn")

    def submit(self, import_id: int) -> None:
        """Queue an import (the thread starts on first use)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="paperroute-imports", daemon=True
                )
                self._thread.start()
        self._queue.put(import_id)

    def resume(self) -> None:
        """Queue the imports left waiting by an earlier run of the server."""
        for import_id in imports.queued_import_ids(self.engine):
            self.submit(import_id)

    def close(self) -> None:
        """Stop taking imports; the one running now is ended and goes back to the queue."""
        self._queue.put(None)
        current, child = self._current, self._child
        if child is not None and child.is_alive():
            child.terminate()
            child.join(5)
        if current is not None and not _finished(self.engine, current):
            imports.requeue_import(self.engine, current)

    def _loop(self) -> None:
        while (import_id := self._queue.get()) is not None:
            self._current = import_id
            try:
                self._child = self._context.Process(
                    target=_run_in_child,
                    args=(self.settings, import_id),
                    name=f"paperroute-import-{import_id}",
                    daemon=True,
                )
                self._child.start()
                self._child.join()
                if self._child.exitcode not in (0, -15):  # -15: ended by close()
                    log.error(
                        "import %s: its process exited with %s", import_id, self._child.exitcode
                    )
                self._after(import_id)
            except Exception:  # the database may be unreachable; the row stays for a resume
                log.exception("import %s could not run", import_id)
            finally:
                self._current = self._child = None

    def _after(self, import_id: int) -> None:
        # Counted here, from the row the child wrote: the child's own counters die with it.
        job = imports.get_import(self.engine, import_id)
        if job is None or not job.finished:
            return
        JOB_RUNS.labels(f"import-{job.kind}", "error" if job.status == "failed" else "ok").inc()
        report = job.report or {}
        if report.get("fetched") and self.on_stored is not None:
            self.on_stored(list(report.get("matched") or []))


def _finished(engine: Engine, import_id: int) -> bool:
    job = imports.get_import(engine, import_id)
    return job is None or job.finished
