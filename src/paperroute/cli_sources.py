"""`paperroute sources` (every source's schedule, counts and errors; pause, resume, journal
feeds) and `paperroute sync <source>` for each source beyond arXiv and Hugging Face.

Registered into the Typer app by cli.py; each command goes through the same Ingest and the
same scheduled-source functions (jobs/sources.py) as the worker and the admin page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import typer

from paperroute.cli import (
    _parse_date,
    _run_sync,
    app,
    cli_ingest,
    err,
    get_settings,
    open_engine,
    print_json,
    sync_app,
)

sources_app = typer.Typer(
    help="Every source: last run, next run, papers, errors; pause, resume, journal feeds.",
    invoke_without_command=True,
)
app.add_typer(sources_app, name="sources")


def _source_or_exit(build):
    """Build a source; a bad argument is a message and exit 2, not a traceback."""
    from paperroute.sources.base import SourceError

    try:
        return build()
    except SourceError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc


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
        err.print("[red]give --subject (the RSS feeds) or --from (the details API)[/red]")
        raise typer.Exit(2)
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


def _when(value) -> str:
    if value is None:
        return "-"
    seconds = (value - datetime.now(UTC)).total_seconds()
    if seconds <= 0:
        return "due now" if seconds > -60 else value.strftime("%Y-%m-%d %H:%M")
    return f"in {seconds / 3600:.1f} h" if seconds >= 3600 else f"in {seconds / 60:.0f} min"


@sources_app.callback()
def sources_list(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Every source: last run, next run, papers, status (errors), paused."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from paperroute.jobs.sources import source_overview

    settings = get_settings()
    rows = source_overview(settings, open_engine(settings))
    if as_json:
        print_json(rows)
        return
    table = Table("source", "papers", "last run", "next run", "status", "message")
    for row in rows:
        status = "paused" if row["paused"] else row["status"]
        if not row["configured"]:
            status = f"not configured (set {row['setting']})"
        last = row["last_run"].strftime("%Y-%m-%d %H:%M") if row["last_run"] else "never"
        nxt = "paused" if row["paused"] else _when(row["next_run"])
        table.add_row(
            row["url"] or row["name"], str(row["papers"]), last, nxt, status, row["message"] or ""
        )
    Console(soft_wrap=True, width=200).print(table)


def _known_or_exit(engine, name: str):
    from paperroute.jobs.sources import find_source

    found = find_source(engine, name)
    if found is None:
        err.print(
            f"[red]no source {name!r}; `paperroute sources` lists them[/red]", highlight=False
        )
        raise typer.Exit(2)
    return found


@sources_app.command("pause")
def sources_pause(name: str = typer.Argument(..., help="A source name or feed URL.")) -> None:
    """Pause a source: the worker skips it until resumed."""
    from paperroute.store.sources import set_paused

    engine = open_engine(get_settings())
    set_paused(engine, _known_or_exit(engine, name).name, True)
    err.print(f"{name}: paused")


@sources_app.command("resume")
def sources_resume(name: str = typer.Argument(..., help="A source name or feed URL.")) -> None:
    """Resume a paused source."""
    from paperroute.store.sources import set_paused

    engine = open_engine(get_settings())
    set_paused(engine, _known_or_exit(engine, name).name, False)
    err.print(f"{name}: resumed")


@sources_app.command("add-feed")
def sources_add_feed(
    url: str = typer.Argument(..., help="An RSS or Atom journal feed URL."),
) -> None:
    """Add a journal feed by URL: the worker then reads it on its own schedule."""
    from paperroute.store.sources import FeedUrlError, add_journal_feed

    engine = open_engine(get_settings())
    try:
        feed, new = add_journal_feed(engine, url)
    except FeedUrlError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    err.print(
        f"{feed['name']}: {'added' if new else 'already added'} ({feed['url']})", highlight=False
    )


@sources_app.command("remove-feed")
def sources_remove_feed(name: str = typer.Argument(..., help="The feed's name or URL.")) -> None:
    """Stop reading a journal feed (its papers stay)."""
    from paperroute.store.sources import remove_journal_feed

    engine = open_engine(get_settings())
    if not remove_journal_feed(engine, name):
        err.print(f"[red]no journal feed {name!r}[/red]", highlight=False)
        raise typer.Exit(2)
    err.print(f"{name}: removed")


@sources_app.command("run")
def sources_run(name: str = typer.Argument(..., help="A source name or feed URL.")) -> None:
    """Run one scheduled source now, from its checkpoint, as the worker would (the run is
    recorded in its history, and its next run is one interval later)."""
    import dataclasses

    from paperroute.jobs.scheduler import finish
    from paperroute.jobs.sources import run_scheduled_source
    from paperroute.sources.base import SourceError

    settings = get_settings()
    engine = open_engine(settings)
    scheduled = _known_or_exit(engine, name)
    job = dataclasses.replace(scheduled.job, exclusive=False)  # recorded without a lease
    try:
        note = run_scheduled_source(settings, engine, scheduled, cli_ingest(settings, engine))
    except SourceError as exc:
        finish(engine, job, "cli", "error", str(exc))
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from exc
    finish(engine, job, "cli", "ok", note)
    err.print(f"{scheduled.name}: {note}", highlight=False)
