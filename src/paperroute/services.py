"""The services a process builds once: settings, engine, the search service and the ingest path.

`create_app` (the web process, whose background jobs share them), the `paperroute worker`
command and the CLI each build one `Services`, and every job takes it. So a process holds one
embedding model and one set of search indexes, however many jobs and requests use them: before,
each job run built its own `SearchService` (a second MiniLM and a second copy of the vector index
in the web process every five minutes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine

from paperroute.community.notifications import notify_followers_of_new_papers
from paperroute.config import Settings
from paperroute.mail.smtp import Mailer
from paperroute.sources.ingest import Ingest

if TYPE_CHECKING:  # these load numpy, tantivy and usearch: only when first used
    from paperroute.ranking.foryou import Recommender
    from paperroute.search.service import SearchService

log = logging.getLogger("paperroute.services")


class SearchProvider(Protocol):
    """Where a process gets its one search service."""

    def get(self) -> SearchService | None:
        """The service, built on first call (None: search is not available)."""

    def ready(self) -> SearchService | None:
        """The service if built; otherwise start building it in the background and say None."""

    def status(self) -> str:
        """`ready`, `opening`, `unavailable` or `disabled`, for /readyz."""


class LazySearch:
    """The search service, built on first use (loading the embedding model costs seconds)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        warm: Callable[[], None] | None = None,
        warm_up: bool = True,
    ) -> None:
        self._settings, self._engine = settings, engine
        # False (the CLI): keyword indexing needs no model, so none is loaded until a job asks
        self._warm_up = warm_up
        self._service: SearchService | None = None
        self._failed = False
        self._lock = threading.Lock()
        self._warm = warm  # more start-up work done before the service counts as ready

    def get(self) -> SearchService | None:
        """The SearchService with its indexes opened, or None when search is not available."""
        if self._service is None and not self._failed:
            with self._lock:
                if self._service is None and not self._failed:
                    self._service = self._build()
        return self._service

    def ready(self) -> SearchService | None:
        """The service if it is built; otherwise start building it in the background and say None.

        Pages where search is an extra (similar papers) never wait for the model to load.
        """
        if self._service is None and not self._failed and not self._lock.locked():
            threading.Thread(target=self.get, name="search-warmup", daemon=True).start()
        return self._service

    def status(self) -> str:
        """`ready`, `opening` (being built) or `unavailable` (failed), for /readyz."""
        if self._service is not None:
            return "ready"
        return "unavailable" if self._failed else "opening"

    def _build(self) -> SearchService | None:
        try:
            from paperroute.search.service import SearchService

            service = SearchService(self._settings, self._engine)
            for line in service.open():
                log.info("search: %s", line)
            if not self._warm_up:
                return service
            # Load the model (and export its ONNX query encoder the first time) and run one
            # search through every index now, not on a reader's first search; /readyz says
            # ready only after this.
            service.search("warm up the indexes")
            if self._warm is not None:
                self._warm()
            return service
        except Exception:  # search is optional for every page but /search
            log.warning("search service unavailable", exc_info=True)
            self._failed = True
            return None


class FixedSearch:
    """A search service given from outside (tests, benchmarks), or none at all (disabled)."""

    def __init__(self, service: SearchService | None) -> None:
        self._service = service

    def get(self) -> SearchService | None:
        """The given service."""
        return self._service

    ready = get

    def status(self) -> str:
        """`ready`, or `disabled` when no service was given."""
        return "ready" if self._service is not None else "disabled"


@dataclass
class Services:
    """What one process shares between its requests, jobs and commands."""

    settings: Settings
    engine: Engine
    search: SearchProvider
    ingest: Ingest
    _recommender: Recommender | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def for_worker(
        cls, settings: Settings, engine: Engine, search: SearchProvider | None = None
    ) -> Services:
        """The services of a process without a web app (`paperroute worker`, the CLI): what the
        ingest stores is indexed at once and the followers of new papers' authors are told."""
        provider = search or LazySearch(settings, engine)
        ingest = process_ingest(settings, engine, lambda ids: _index(provider, ids))
        return cls(settings, engine, provider, ingest)

    def search_service(self) -> SearchService | None:
        """The process's search service (built on first use; None when unavailable)."""
        return self.search.get()

    def recommender(self) -> Recommender:
        """The process's one recommender (/for-you, its API, the digest and the CLI), built on
        first use: its window and vector caches then serve every reader of the process.

        Without a search service, vectors come straight from the embeddings table and topics
        cannot be embedded.
        """
        with self._lock:
            if self._recommender is None:
                self._recommender = self._build_recommender()
            return self._recommender

    def _build_recommender(self) -> Recommender:
        from paperroute.ranking.foryou import Recommender

        search = self.search.get()
        if search is not None:
            return Recommender.from_search(self.engine, search)
        from paperroute.store.embeddings import load_vectors

        model, engine = self.settings.embedding_model, self.engine
        return Recommender(engine, lambda ids: load_vectors(engine, model, ids))

    def mailer(self) -> Mailer:
        """A mail connection for one run of sending (use as a context manager)."""
        return Mailer(self.settings)


def process_ingest(
    settings: Settings, engine: Engine, on_stored: Callable[[Sequence[str]], None]
) -> Ingest:
    """The ingest of a process without a web app: `on_stored` indexes what it stored, and the
    followers of new papers' authors are told (the notification-mail job sends the mail)."""
    return Ingest(
        engine,
        settings,
        on_stored,
        on_added=lambda ids: notify_followers_of_new_papers(
            engine, ids, settings.submission_max_age_days
        ),
    )


def _index(search: SearchProvider, ids: Sequence[str]) -> None:
    service = search.get()
    if service is not None:
        service.index_papers(list(ids))
