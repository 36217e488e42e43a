"""Library and account imports started from the web, run in the background.

The upload is stored under `<data_dir>/uploads/` and recorded in `import_jobs`; the request then
answers at once with a page that follows the import. `run_import` takes only the row's id,
reloads the row and returns quietly if it is gone or already taken (linkding's task pattern),
so a deleted account, a second web process or a resumed queue never imports twice.
`ImportRunner` is the app's one worker thread for them.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from paperroute.config import Settings
from paperroute.library.formats import LibraryFileError
from paperroute.library.importer import arxiv_fetcher, import_ids, import_library
from paperroute.metrics import JOB_RUNS
from paperroute.store import imports
from paperroute.store import library as account_store
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
    JOB_RUNS.labels(f"import-{job.kind}", "error" if error else "ok").inc()
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
                fetch=arxiv_fetcher(settings),
                progress=stage,
            )
            return report.to_dict(), None
        if job.kind == "ids":
            text = data.decode("utf-8", errors="replace")
            fetch = arxiv_fetcher(settings)
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


class ImportRunner:
    """The app's import worker: one daemon thread that runs submitted imports in order.

    One thread, because imports are CPU-bound Python and the page handlers need the other
    cores. A daemon, because a shutdown must not wait for a 50 MB import: the import saves its
    collection in one transaction, so cutting it short loses nothing, and `close` puts the
    running import back in the queue for the next start.
    """

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._current: int | None = None

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
        """Stop taking imports; the one running now goes back to the queue."""
        self._queue.put(None)
        current = self._current
        if current is not None:
            imports.requeue_import(self.engine, current)

    def _loop(self) -> None:
        while (import_id := self._queue.get()) is not None:
            self._current = import_id
            try:
                run_import(self.settings, self.engine, import_id)
            except Exception:  # the database may be unreachable; the row stays for a resume
                log.exception("import %s could not run", import_id)
            finally:
                self._current = None
