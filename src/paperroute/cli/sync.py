"""`paperroute sync <source>`: fetch new papers from each live source, resumably, through the
CLI's one ingest path (the same scheduled-source functions as the worker, jobs/sources.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import typer

from paperroute.cli.common import (
    app,
    cli_ingest,
    err,
    fail,
    get_settings,
    open_engine,
)
from paperroute.config import Settings

sync_app = typer.Typer(help="Fetch new papers from live sources (resumable).")
app.add_typer(sync_app, name="sync")


def _parse_date(value: str | None, flag: str):
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{flag}: not a date (YYYY-MM-DD): {value!r}", 2)


def _run_sync(settings: Settings, source, checkpoint_key: str | None) -> None:
    """Run a live source into the store; exit non-zero on a source failure."""
    from paperroute.sources.base import SourceError

    engine = open_engine(settings)
    try:
        report = cli_ingest(settings, engine).source(
            source,
            checkpoint_key=checkpoint_key,
            on_error=lambda e: err.print(f"[yellow]rejected[/yellow] {e}", highlight=False),
        )
    except SourceError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        err.print("progress up to the last stored page is kept; run the same command to resume")
        raise typer.Exit(1) from exc
    err.print(f"{source.name}: {report.summary()}", highlight=False)
    if report.interrupted:
        err.print("interrupted: run the same command again to resume")
        raise typer.Exit(130)


@sync_app.command("arxiv-oai")
def sync_arxiv_oai(
    set_spec: str | None = typer.Option(None, "--set", help="OAI set, e.g. cs or physics:hep-th."),
    from_date: str | None = typer.Option(None, "--from", help="First datestamp (YYYY-MM-DD)."),
    until_date: str | None = typer.Option(None, "--until", help="Last datestamp (YYYY-MM-DD)."),
    prefix: str = typer.Option("arXiv", help="Metadata format: arXiv or arXivRaw (all versions)."),
    restart: bool = typer.Option(False, help="Ignore a saved checkpoint and start over."),
) -> None:
    """Harvest arXiv over OAI-PMH (ListRecords), resuming an interrupted harvest."""
    from paperroute.sources.arxiv_oai import ArxivOAISource
    from paperroute.sources.ingest import checkpoint_key_for

    settings = get_settings()
    params = {
        "set_spec": set_spec,
        "from_date": _parse_date(from_date, "--from"),
        "until_date": _parse_date(until_date, "--until"),
        "metadata_prefix": prefix,
    }
    key = checkpoint_key_for("arxiv-oai", params)
    if restart:
        from paperroute.store.papers import set_sync_state

        set_sync_state(open_engine(settings), key, None)
    _run_sync(settings, ArxivOAISource.from_settings(settings, **params), key)


@sync_app.command("arxiv-rss")
def sync_arxiv_rss(
    categories: list[str] = typer.Argument(..., help="Categories, e.g. cs.CL cs.LG or math."),
) -> None:
    """Read today's arXiv announcements (new, cross-lists, replacements) for categories."""
    from paperroute.sources.arxiv_rss import ArxivRSSSource

    settings = get_settings()
    _run_sync(settings, ArxivRSSSource.from_settings(settings, categories), None)


@sync_app.command("arxiv-api")
def sync_arxiv_api(
    ids: list[str] = typer.Argument(None, help="arXiv ids or URLs."),
    query: str | None = typer.Option(None, "--query", help="arXiv search query, e.g. ti:llm."),
    max_results: int | None = typer.Option(None, "--max", help="Stop after this many results."),
) -> None:
    """Fetch papers by id or search query through the arXiv API (3 s between requests)."""
    from paperroute.sources.arxiv_api import ArxivAPISource
    from paperroute.sources.base import SourceError

    settings = get_settings()
    try:
        source = ArxivAPISource.from_settings(
            settings, ids=ids or (), query=query, max_results=max_results
        )
    except SourceError as exc:
        fail(str(exc), 2)
    _run_sync(settings, source, None)


@sync_app.command("hf-daily")
def sync_hf_daily(
    day: str | None = typer.Option(None, "--date", help="One day (YYYY-MM-DD)."),
    since: str | None = typer.Option(None, "--since", help="Every day from this one to today."),
    until: str | None = typer.Option(None, "--until", help="Last day with --since."),
) -> None:
    """Fetch Hugging Face daily papers (upvotes, code, stars) for a day or a range of days."""
    from paperroute.sources.hf_daily import HfDailySource
    from paperroute.sources.ingest import checkpoint_key_for

    if bool(day) == bool(since):
        fail("give exactly one of --date or --since", 2)
    settings = get_settings()
    if day:
        source = HfDailySource.from_settings(settings, [_parse_date(day, "--date")])
        _run_sync(settings, source, None)
        return
    start, end = _parse_date(since, "--since"), _parse_date(until, "--until")
    source = HfDailySource.from_settings(settings, since=start, until=end)
    _run_sync(settings, source, checkpoint_key_for("hf-daily", {"since": start, "until": end}))


def _source_or_exit(build):
    """Build a source; a bad argument is a message and exit 2, not a traceback."""
    from paperroute.sources.base import SourceError

    try:
        return build()
    except SourceError as exc:
        fail(str(exc), 2)


def _sync_resumable(settings, name: str, params: dict[str, Any], build, restart: bool) -> None:
    from paperroute.sources.ingest import checkpoint_key_for

    source = _source_or_exit(build)
    key = checkpoint_key_for(name, params)
    if restart:
        from paperroute.store.papers import set_sync_state

        set_sync_state(open_engine(settings), key, None)
    _run_sync(settings, source, key)


def _filters(text: str | None) -> dict[str, str]:
    from paperroute.jobs.sources import parse_filters

    return _source_or_exit(lambda: parse_filters(text or "", "--filter"))


@sync_app.command("acl-anthology")
def sync_acl_anthology(
    collections: list[str] = typer.Argument(..., help="Collections, e.g. 2024.acl 2024.emnlp."),
    bibtex: bool = typer.Option(True, help="Also fetch each volume's BibTeX as given."),
) -> None:
    """Fetch ACL Anthology volumes (papers, venues, awards, PDF and code links)."""
    from paperroute.sources.acl_anthology import AclAnthologySource

    settings = get_settings()
    source = _source_or_exit(
        lambda: AclAnthologySource.from_settings(settings, collections, with_bibtex=bibtex)
    )
    _run_sync(settings, source, None)


@sync_app.command("crossref")
def sync_crossref(
    dois: list[str] = typer.Option([], "--doi", help="A DOI (repeat for several)."),
    issn: str | None = typer.Option(None, "--issn", help="A journal's ISSN: its works."),
    filters: str | None = typer.Option(
        None,
        "--filter",
        help="Crossref filter, e.g. from-created-date:2024-01-01,type:journal-article.",
    ),
    max_results: int | None = typer.Option(None, "--max", help="Stop after this many works."),
    restart: bool = typer.Option(False, help="Ignore a saved checkpoint and start over."),
) -> None:
    """Fetch Crossref works by DOI, by filter or by journal ISSN (cursor paging, resumable)."""
    from paperroute.sources.crossref import CrossrefSource

    settings = get_settings()
    params = {"dois": ",".join(dois) or None, "issn": issn, "filter": filters, "max": max_results}
    build = lambda: CrossrefSource.from_settings(  # noqa: E731
        settings, dois=dois, issn=issn, filters=_filters(filters), max_results=max_results
    )
    _sync_resumable(settings, "crossref", params, build, restart)


@sync_app.command("openalex")
def sync_openalex(
    dois: list[str] = typer.Option([], "--doi", help="A DOI (repeat for several)."),
    filters: str | None = typer.Option(
        None, "--filter", help="OpenAlex filter, e.g. from_publication_date:2024-01-01."
    ),
    max_results: int | None = typer.Option(None, "--max", help="Stop after this many works."),
    restart: bool = typer.Option(False, help="Ignore a saved checkpoint and start over."),
) -> None:
    """Fetch OpenAlex works by filter (cursor paging, resumable) or by DOI."""
    from paperroute.sources.openalex import OpenAlexSource

    settings = get_settings()
    params = {"dois": ",".join(dois) or None, "filter": filters, "max": max_results}
    build = lambda: OpenAlexSource.from_settings(  # noqa: E731
        settings, dois=dois, filters=_filters(filters), max_results=max_results
    )
    _sync_resumable(settings, "openalex", params, build, restart)


@sync_app.command("pubmed")
def sync_pubmed(
    term: str = typer.Argument(..., help="A PubMed search, e.g. 'crispr[tiab] AND 2024[dp]'."),
    max_results: int | None = typer.Option(None, "--max", help="Stop after this many articles."),
    restart: bool = typer.Option(False, help="Ignore a saved checkpoint and start over."),
) -> None:
    """Fetch PubMed articles for a search (esearch with history, then efetch; resumable)."""
    from paperroute.sources.pubmed import PubMedSource

    settings = get_settings()
    build = lambda: PubMedSource.from_settings(settings, term, max_results=max_results)  # noqa: E731
    _sync_resumable(settings, "pubmed", {"term": term, "max": max_results}, build, restart)


def _preprints(server: str, subjects: list[str], since: str | None, until: str | None) -> None:
    from paperroute.sources.biorxiv import BiorxivDetailsSource, BiorxivFeedSource
    from paperroute.sources.http import HttpClient

    if bool(subjects) == bool(since):
        fail("give --subject (the RSS feeds) or --from (the details API)", 2)
    settings = get_settings()
    if subjects:
        for subject in subjects:
            client = HttpClient.from_settings(
                settings, source=server, min_interval=settings.biorxiv_delay
            )
            url = settings.biorxiv_feed_url.format(server=server, subject=quote(subject))
            source = _source_or_exit(
                lambda s=subject, u=url, c=client: BiorxivFeedSource(
                    s, server=server, url=u, client=c
                )
            )
            _run_sync(settings, source, None)
        return
    start = _parse_date(since, "--from")
    end = _parse_date(until, "--until") or datetime.now(UTC).date()
    build = lambda: BiorxivDetailsSource.from_settings(settings, start, end, server=server)  # noqa: E731
    _sync_resumable(settings, server, {"from": start, "until": end}, build, False)


@sync_app.command("biorxiv")
def sync_biorxiv(
    subjects: list[str] = typer.Option([], "--subject", help="A subject feed, e.g. genomics."),
    since: str | None = typer.Option(None, "--from", help="The details API from this day."),
    until: str | None = typer.Option(None, "--until", help="Last day with --from (default today)."),
) -> None:
    """Fetch bioRxiv preprints: subject RSS feeds, or the details API by date range."""
    _preprints("biorxiv", subjects, since, until)


@sync_app.command("medrxiv")
def sync_medrxiv(
    subjects: list[str] = typer.Option([], "--subject", help="A subject feed, e.g. epidemiology."),
    since: str | None = typer.Option(None, "--from", help="The details API from this day."),
    until: str | None = typer.Option(None, "--until", help="Last day with --from (default today)."),
) -> None:
    """Fetch medRxiv preprints: subject RSS feeds, or the details API by date range."""
    _preprints("medrxiv", subjects, since, until)


@sync_app.command("openreview")
def sync_openreview(
    venue: str = typer.Argument(..., help="Venue id, e.g. ICLR.cc/2024/Conference."),
) -> None:
    """Fetch a venue's accepted papers with decisions (oral, spotlight, poster) from OpenReview."""
    from paperroute.sources.openreview import OpenReviewSource

    settings = get_settings()
    _run_sync(
        settings, _source_or_exit(lambda: OpenReviewSource.from_settings(settings, venue)), None
    )


@sync_app.command("journal-feed")
def sync_journal_feed(
    feed: str = typer.Argument(..., help="A feed URL, or the name of a feed added with add-feed."),
) -> None:
    """Read an RSS 1.0/2.0 or Atom journal feed (prism: DOI, volume, issue, pages) once."""
    from paperroute.jobs.sources import find_source
    from paperroute.sources.feeds import JournalFeedSource

    settings = get_settings()
    added = find_source(open_engine(settings), feed)
    url = added.url if added and added.url else feed
    name = added.name if added and added.url else "journal-feed"
    source = _source_or_exit(lambda: JournalFeedSource.from_settings(settings, url, name=name))
    _run_sync(settings, source, None)


# --- paperroute sources ----------------------------------------------------------------------
