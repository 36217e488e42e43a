"""Every source in the worker's schedule: what each fetches, when it is due, and its overview.

One worker job, `sync-sources`, wakes every minute and asks which source is due (the Hugging Face
daily papers, `hf-daily`, among them): each source has
its own lease row in `job_runs` (`source:<name>`, the scheduler's lease), its own interval and its
own checkpoint in `sync_state`, so a source that fails or is paused never holds up another. What a
source fetches comes from settings (`crossref_issns`, `pubmed_term`, ...); a source with nothing
configured is listed as "not configured" and skipped. Journal feeds added by URL (admin page,
`paperroute sources add-feed`) are sources of their own, one per feed.

Politeness: each source's client keeps its own delay, and one `HostPacer` per process keeps at
least `source_host_delay` seconds between any two requests to one host, whichever source sends them.

`paperroute sources`, `/admin/sources` and this job read the same `source_overview`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Engine

from paperroute.config import Settings
from paperroute.jobs.scheduler import Job, finish, job_status, try_lease
from paperroute.sources.base import Page, Source, SourceError
from paperroute.sources.http import HostPacer, HttpClient
from paperroute.store import sources as store
from paperroute.store.papers import get_sync_state, set_sync_state

if TYPE_CHECKING:
    from paperroute.services import Services
    from paperroute.sources.ingest import Ingest

log = logging.getLogger(__name__)

HOUR, DAY = 3600.0, 86400.0
PACER = HostPacer()  # one per process: every source and enrichment shares it
FIRST_RUN_DAYS = 7  # a source asked for "new works since" starts this many days back


class ChainSource:
    """Several sources run one after another as one (several ISSNs, subjects or venues); the
    checkpoint says which part is running and holds that part's own checkpoint."""

    def __init__(self, name: str, parts: Sequence[Source]) -> None:
        self.name, self.parts = name, list(parts)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """Each part's pages in turn; done on the last page of the last part."""
        state = checkpoint if isinstance(checkpoint, dict) else {}
        start = int(state.get("part", 0))
        for index in range(start, len(self.parts)):
            inner = state.get("inner") if index == start else None
            last = index == len(self.parts) - 1
            for page in self.parts[index].pages(inner):
                if page.done:
                    cp = None if last else {"part": index + 1, "inner": None}
                else:
                    cp = {"part": index, "inner": page.checkpoint}
                yield Page(items=page.items, checkpoint=cp, done=page.done and last)


# (settings, engine, since) -> the source to run, or None when nothing is configured
Builder = Callable[[Settings, Engine, date], Source | None]


@dataclass
class ScheduledSource:
    """A source in the schedule."""

    name: str
    interval_seconds: float
    build: Builder
    kind: str = ""
    setting: str | None = None  # the setting that says what to fetch (None: always configured)
    url: str | None = None  # journal feeds: the feed's URL
    records_as: str | None = None  # the `source` its records carry, when not its name

    def configured(self, settings: Settings) -> bool:
        """True when the setting that says what to fetch is set."""
        value = getattr(settings, self.setting) if self.setting else True
        return bool(value.strip() if isinstance(value, str) else value)

    @property
    def job(self) -> Job:
        """The lease row this source runs under (`source:<name>` in job_runs)."""
        return Job(f"source:{self.name}", self.interval_seconds, lease_seconds=6 * HOUR)

    @property
    def checkpoint_key(self) -> str:
        return checkpoint_key(self.name)

    @property
    def since_key(self) -> str:
        return f"source:{self.name}:since"


def checkpoint_key(name: str) -> str:
    """Where a scheduled source's checkpoint is kept (sync_state)."""
    return f"source:{name}:checkpoint"


def _client(settings: Settings, name: str, delay: float) -> HttpClient:
    return HttpClient.from_settings(settings, source=name, min_interval=delay)


def _hf_daily(settings: Settings, engine: Engine, since: date) -> Source | None:
    # Yesterday's and today's pages on every run, whatever the last run's day: upvotes on a day's
    # papers keep changing after it.
    from paperroute.sources.hf_daily import HfDailySource

    today = datetime.now(UTC).date()
    return HfDailySource.from_settings(settings, [today - timedelta(days=1), today])


def _acl(settings: Settings, engine: Engine, since: date) -> Source | None:
    from paperroute.sources.acl_anthology import AclAnthologySource

    collections = settings.acl_anthology_collections
    return AclAnthologySource.from_settings(settings, collections) if collections else None


def _crossref(settings: Settings, engine: Engine, since: date) -> Source | None:
    from paperroute.sources.crossref import CrossrefSource

    parts = [
        CrossrefSource.from_settings(
            settings, filters={"issn": issn, "from-created-date": since.isoformat()}
        )
        for issn in settings.crossref_issns
    ]
    return ChainSource("crossref", parts) if parts else None


def _openalex(settings: Settings, engine: Engine, since: date) -> Source | None:
    from paperroute.sources.openalex import OpenAlexSource

    if not settings.openalex_filter.strip():
        return None
    filters = parse_filters(settings.openalex_filter, "openalex_filter")
    filters.setdefault("from_publication_date", since.isoformat())
    return OpenAlexSource.from_settings(settings, filters=filters)


def _pubmed(settings: Settings, engine: Engine, since: date) -> Source | None:
    from paperroute.sources.pubmed import PubMedSource

    term = settings.pubmed_term.strip()
    if not term:
        return None
    dated = f'({term}) AND ("{since:%Y/%m/%d}"[EDAT] : "3000"[EDAT])'
    return PubMedSource.from_settings(settings, dated)


def _preprint_feeds(server: str) -> Builder:
    def build(settings: Settings, engine: Engine, since: date) -> Source | None:
        from paperroute.sources.biorxiv import BiorxivFeedSource

        subjects = getattr(settings, f"{server}_subjects")
        parts = [
            BiorxivFeedSource(
                s,
                server=server,
                url=settings.biorxiv_feed_url.format(server=server, subject=quote(s)),
                client=_client(settings, server, settings.biorxiv_delay),
            )
            for s in subjects
        ]
        return ChainSource(server, parts) if parts else None

    return build


def _openreview(settings: Settings, engine: Engine, since: date) -> Source | None:
    from paperroute.sources.openreview import OpenReviewSource

    parts = [OpenReviewSource.from_settings(settings, v) for v in settings.openreview_venues]
    return ChainSource("openreview", parts) if parts else None


def _feed(url: str, name: str) -> Builder:
    def build(settings: Settings, engine: Engine, since: date) -> Source | None:
        from paperroute.sources.feeds import JournalFeedSource

        return JournalFeedSource.from_settings(settings, url, name=name)

    return build


def parse_filters(text: str, what: str) -> dict[str, str]:
    """`key:value,key:value` (Crossref and OpenAlex filter syntax) as a dict."""
    filters: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition(":")
        if not sep or not key.strip() or not value.strip():
            raise SourceError(f"{what}: {part!r} is not key:value")
        filters[key.strip()] = value.strip()
    return filters


class EnrichmentPass:
    """One batch of an enrichment sweep: the inner source's pages, then a page that moves the
    sweep's cursor past this batch (back to the start once a batch comes back short), so each
    run asks about the next papers that lack the values and a full sweep retries the rest."""

    def __init__(self, inner: Source, targets: list[dict[str, Any]], limit: int) -> None:
        self.name, self.inner = inner.name, inner
        self.client = getattr(inner, "client", None)
        self.after = targets[-1]["id"] if len(targets) >= limit else ""

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """The inner pages (keeping the cursor), then the cursor moved on."""
        for page in self.inner.pages():
            yield Page(items=page.items, checkpoint=checkpoint, done=False)
        yield Page(items=[], checkpoint={"after": self.after}, done=False)


def _enrichment(name: str, kind: str, make: Callable[[Settings, list], Source]) -> Builder:
    def build(settings: Settings, engine: Engine, since: date) -> Source | None:
        state = get_sync_state(engine, checkpoint_key(name))
        after = state.get("after", "") if isinstance(state, dict) else ""
        limit = settings.enrich_batch
        targets = store.enrichment_targets(engine, kind, after, limit)
        if not targets and after:  # the end of a sweep: start the next one
            targets = store.enrichment_targets(engine, kind, "", limit)
        return EnrichmentPass(make(settings, targets), targets, limit)

    return build


def _semantic_scholar(settings: Settings, targets: list) -> Source:
    from paperroute.sources.semantic_scholar import SemanticScholarEnrichment

    return SemanticScholarEnrichment.from_settings(settings, targets)


def _published(settings: Settings, targets: list) -> Source:
    from paperroute.sources.crossref import CrossrefSource

    dois = [t["doi"] for t in targets]
    if not dois:
        return ChainSource("crossref", [])
    return CrossrefSource.from_settings(settings, dois=dois)


def _pwc(settings: Settings, targets: list) -> Source:
    from paperroute.sources.pwc import PapersWithCodeEnrichment

    return PapersWithCodeEnrichment.from_settings(settings, targets)


BUILT_IN = [
    ScheduledSource(
        "hf-daily", HOUR, _hf_daily, "Hugging Face daily papers (yesterday, today)", "sync_hf_daily"
    ),
    ScheduledSource(
        "acl-anthology", DAY, _acl, "ACL Anthology volumes", "acl_anthology_collections"
    ),
    ScheduledSource("crossref", DAY, _crossref, "Crossref works by journal ISSN", "crossref_issns"),
    ScheduledSource("openalex", DAY, _openalex, "OpenAlex works by filter", "openalex_filter"),
    ScheduledSource("pubmed", DAY, _pubmed, "PubMed search", "pubmed_term"),
    ScheduledSource(
        "biorxiv", HOUR, _preprint_feeds("biorxiv"), "bioRxiv subject feeds", "biorxiv_subjects"
    ),
    ScheduledSource(
        "medrxiv", HOUR, _preprint_feeds("medrxiv"), "medRxiv subject feeds", "medrxiv_subjects"
    ),
    ScheduledSource("openreview", DAY, _openreview, "OpenReview venues", "openreview_venues"),
    # Enrichment: values for stored papers that lack them, a batch per run, each value kept
    # with its source (citations_source, tldr_source, provenance).
    ScheduledSource(
        "semantic-scholar",
        HOUR,
        _enrichment("semantic-scholar", "citations", _semantic_scholar),
        "enrichment: citation counts, TLDR, identifiers",
        "enrich_citations",
        records_as="semantic_scholar",
    ),
    ScheduledSource(
        "crossref-published",
        HOUR,
        _enrichment("crossref-published", "published", _published),
        "enrichment: published version by DOI",
        "enrich_published",
        records_as="crossref",  # papers with a Crossref record, whichever way it came
    ),
    ScheduledSource(
        "pwc",
        HOUR,
        _enrichment("pwc", "code", _pwc),
        "enrichment: Papers with Code code links and tasks",
        "enrich_code",
    ),
]
FEED_INTERVAL = 6 * HOUR


def scheduled_sources(engine: Engine) -> list[ScheduledSource]:
    """The built-in sources and one per journal feed added by URL."""
    feeds = [
        ScheduledSource(
            f["name"], FEED_INTERVAL, _feed(f["url"], f["name"]), "journal feed", url=f["url"]
        )
        for f in store.journal_feeds(engine)
    ]
    return [*BUILT_IN, *feeds]


def find_source(engine: Engine, name: str) -> ScheduledSource | None:
    """A scheduled source by name (a journal feed also by its URL)."""
    for source in scheduled_sources(engine):
        if name in (source.name, source.url):
            return source
    return None


def build_source(settings: Settings, engine: Engine, scheduled: ScheduledSource) -> Source | None:
    """The source to run now (None: nothing configured), its clients sharing the host pacer."""
    since = get_sync_state(engine, scheduled.since_key)
    start = (
        date.fromisoformat(since)
        if isinstance(since, str)
        else datetime.now(UTC).date() - timedelta(days=FIRST_RUN_DAYS)
    )
    source = scheduled.build(settings, engine, start)
    PACER.floor = settings.source_host_delay
    inner = getattr(source, "inner", source)
    for part in getattr(inner, "parts", [inner]):
        client = getattr(part, "client", None)
        if isinstance(client, HttpClient):
            client.pacer = PACER
    return source


def run_scheduled_source(
    settings: Settings, engine: Engine, scheduled: ScheduledSource, ingest: Ingest
) -> str:
    """Run one scheduled source from its checkpoint through `ingest`; returns a note. Once a
    run completes, the next one asks only for what is new since this run's day."""
    day = datetime.now(UTC).date().isoformat()
    source = build_source(settings, engine, scheduled)
    if source is None:
        return "not configured"
    report = ingest.source(source, checkpoint_key=scheduled.checkpoint_key, progress=False)
    if get_sync_state(engine, scheduled.checkpoint_key) is None and not report.interrupted:
        set_sync_state(engine, scheduled.since_key, day)
    return report.summary()


def sync_sources_job(services: Services, stop: threading.Event | None = None) -> str:
    """Run every source that is due, not paused and configured, each under its own lease,
    through the process's one ingest path."""
    from paperroute.digest.delivery import worker_id

    settings, engine = services.settings, services.engine
    owner = worker_id()
    paused = store.paused_sources(engine)
    notes = []
    for scheduled in scheduled_sources(engine):
        if stop is not None and stop.is_set():
            break
        if scheduled.name in paused or not scheduled.configured(settings):
            continue
        if not try_lease(engine, scheduled.job, owner):
            continue
        try:
            note, status = run_scheduled_source(settings, engine, scheduled, services.ingest), "ok"
        except SourceError as exc:  # offline, an error reply, a bad setting: recorded, no trace
            log.warning("source %s failed: %s", scheduled.name, exc)  # one line, as jobs log
            note, status = str(exc), "error"
        except Exception as exc:  # one failing source is recorded and the others still run
            log.exception("source %s failed", scheduled.name)
            note, status = f"{type(exc).__name__}: {exc}", "error"
        finish(engine, scheduled.job, owner, status, note)
        notes.append(f"{scheduled.name}: {status} {note}")
    return "; ".join(notes) or "no source due"


def source_overview(settings: Settings, engine: Engine) -> list[dict[str, Any]]:
    """Every source: kind, configured, paused, papers, last run, next run, status and message."""
    runs = {r["name"]: r for r in job_status(engine)}
    counts = store.papers_by_source(engine)
    paused = store.paused_sources(engine)
    rows = []
    for scheduled in scheduled_sources(engine):
        run = runs.get(scheduled.job.name, {})
        started = _aware(run.get("last_started_at"))
        configured = scheduled.configured(settings)
        due = started + timedelta(seconds=scheduled.interval_seconds) if started else None
        rows.append(
            {
                "name": scheduled.name,
                "kind": scheduled.kind,
                "url": scheduled.url,
                "configured": configured,
                "setting": scheduled.setting,
                "paused": scheduled.name in paused,
                "papers": counts.get(scheduled.records_as or scheduled.name, 0),
                "interval_seconds": scheduled.interval_seconds,
                "last_run": started,
                "last_finished": _aware(run.get("last_finished_at")),
                "next_run": (due or datetime.now(UTC)) if configured else None,
                "status": run.get("last_status")
                or ("never run" if configured else "not configured"),
                "message": run.get("last_message"),
                "checkpoint": get_sync_state(engine, scheduled.checkpoint_key),
            }
        )
    return rows


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
