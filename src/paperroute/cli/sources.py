"""`paperroute sources`: every source's schedule, counts and errors; pause, resume, journal feeds.
The same scheduled-source functions (jobs/sources.py) as the worker and the admin page."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from paperroute.cli.common import (
    app,
    cli_ingest,
    err,
    fail,
    get_settings,
    open_engine,
    print_json,
)

sources_app = typer.Typer(
    help="Every source: last run, next run, papers, errors; pause, resume, journal feeds.",
    invoke_without_command=True,
)
app.add_typer(sources_app, name="sources")


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
        fail(str(exc), 2)
    err.print(
        f"{feed['name']}: {'added' if new else 'already added'} ({feed['url']})", highlight=False
    )


@sources_app.command("remove-feed")
def sources_remove_feed(name: str = typer.Argument(..., help="The feed's name or URL.")) -> None:
    """Stop reading a journal feed (its papers stay)."""
    from paperroute.store.sources import remove_journal_feed

    engine = open_engine(get_settings())
    if not remove_journal_feed(engine, name):
        fail(f"no journal feed {name!r}", 2)
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
        fail(str(exc))
    finish(engine, job, "cli", "ok", note)
    err.print(f"{scheduled.name}: {note}", highlight=False)
