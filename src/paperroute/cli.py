"""Command-line interface (Typer) over every part of paperroute."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console

from paperroute.config import Settings, load_settings

app = typer.Typer(help="paperroute: collect, rank, search and deliver research papers.")
err = Console(stderr=True, soft_wrap=True)


class State:
    """Options shared by every command."""

    data_dir: Path | None = None
    database_url: str | None = None


state = State()


@app.callback()
def _main(
    data_dir: Path | None = typer.Option(None, help="Data directory (default ./data)."),
    database_url: str | None = typer.Option(
        None, help="Database URL (default SQLite in data dir)."
    ),
) -> None:
    """paperroute: collect, rank, search and deliver research papers."""
    state.data_dir = data_dir
    state.database_url = database_url


def get_settings(**overrides) -> Settings:
    """Settings with the global CLI flags applied; exits with a message when invalid."""
    try:
        return load_settings(data_dir=state.data_dir, database_url=state.database_url, **overrides)
    except Exception as exc:  # pydantic ValidationError or placeholder secret
        err.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


def print_json(value) -> None:
    """Write JSON to standard output."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


# --- commands -------------------------------------------------------------------------------
# Each area adds its commands below, in its own section.


def open_engine(settings: Settings):
    """Engine on the configured database, migrated to the newest schema."""
    from paperroute.store.engine import make_engine, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    return engine


# --- store: init, import, export, papers, stats, config ------------------------------------


@app.command()
def init() -> None:
    """Create the data directory and the database schema (safe to run again)."""
    settings = get_settings()
    open_engine(settings)
    err.print(f"database ready: {settings.dump()['database_url'] or settings.sqlalchemy_url}")


@app.command("import")
def import_(
    files: list[Path] = typer.Argument(..., help="Files to import (.gz accepted)."),
    format: str | None = typer.Option(None, "--format", "-f", help="Force a format."),
    batch_size: int = typer.Option(2000, help="Papers per transaction."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Import papers from files; the format is detected unless --format is given."""
    settings = get_settings()
    with _disk_full_is_an_error(settings):
        _import_files(settings, files, format, batch_size, quiet)


def _import_files(
    settings: Settings, files: list[Path], format: str | None, batch_size: int, quiet: bool
) -> None:
    from rich.markup import escape

    from paperroute.sources.base import SourceError
    from paperroute.sources.files import read_file

    engine = open_engine(settings)
    ingest = cli_ingest(settings, engine)
    total_records = total_errors = 0
    for path in files:
        if not path.exists():
            err.print(f"[red]{escape(str(path))}: no such file[/red]")
            raise typer.Exit(1)
        try:
            report = ingest.items(
                read_file(path, format),
                batch_size=batch_size,
                progress=not quiet,
                desc=path.name,
                on_error=lambda e: err.print(f"[yellow]rejected[/yellow] {escape(str(e))}"),
            )
        except SourceError as exc:
            err.print(f"[red]{escape(str(exc))}[/red]", highlight=False)  # names the file
            raise typer.Exit(1) from exc
        err.print(f"{path}: {report.summary()}", highlight=False, markup=False)
        total_records += report.records
        total_errors += report.error_count
        if report.failure:
            err.print(f"[red]{escape(report.failure)}[/red]", highlight=False)
            raise typer.Exit(1)
        if report.interrupted:
            raise typer.Exit(130)
    if total_records == 0 and total_errors > 0:
        err.print("[red]nothing could be imported[/red]")
        raise typer.Exit(1)


@contextlib.contextmanager
def _disk_full_is_an_error(settings: Settings):
    """A full disk (or quota) while importing: one clear line and exit 1, not a traceback."""
    import errno

    from rich.markup import escape
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except (OSError, OperationalError, ValueError) as exc:
        text = str(exc)
        full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
        if not (full or "disk is full" in text or "No space left" in text):
            raise
        err.print(
            f"[red]disk full: cannot write to {escape(str(settings.data_dir))}; free some space "
            "and run the import again (batches already stored are kept, and a re-import adds "
            "only what is missing)[/red]",
            highlight=False,
        )
        raise typer.Exit(1) from None


def cli_ingest(settings: Settings, engine):
    """The CLI process's one Ingest: what it stores is keyword-indexed at once (by one search
    service for the whole command), and the terminal says how many papers still await
    `paperroute embed` (the CLI embeds only when asked). The followers of new papers' authors are
    notified; the worker's mail job sends the mail."""
    from paperroute.community.notifications import notify_followers_of_new_papers
    from paperroute.services import LazySearch
    from paperroute.sources.ingest import Ingest

    search = LazySearch(settings, engine, warm_up=False)
    return Ingest(
        engine, settings, on_stored=lambda ids: _index_stored(search, engine, ids),
        on_added=lambda ids: notify_followers_of_new_papers(
            engine, ids, settings.submission_max_age_days
        ),
    )  # fmt: skip


def _index_stored(search, engine, changed: list[str]) -> None:
    from paperroute.store.embeddings import count_pending

    service = search.get()
    if service is None:
        err.print("search index: not updated (the search service is unavailable; see the log)")
        return
    indexed = service.index_papers(changed)
    pending = count_pending(engine, service.model)
    hint = f"; {pending} papers await `paperroute embed` for semantic search" if pending else ""
    err.print(f"search index: {indexed} papers indexed{hint}")


@app.command()
def export(
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file (.gz compresses)."),
) -> None:
    """Export every paper as paperroute JSON lines (standard output by default)."""
    import gzip

    from paperroute.sources.jsonl import paper_to_json
    from paperroute.store.papers import iter_papers

    engine = open_engine(get_settings())
    count = 0
    with contextlib.ExitStack() as stack:
        if out is None:
            handle = sys.stdout
        elif out.suffix == ".gz":
            handle = stack.enter_context(gzip.open(out, "wt", encoding="utf-8"))
        else:
            handle = stack.enter_context(open(out, "w", encoding="utf-8"))
        for paper in iter_papers(engine):
            handle.write(
                json.dumps(paper_to_json(paper), ensure_ascii=False, sort_keys=True) + "\n"
            )
            count += 1
    err.print(f"exported {count} papers")


sync_app = typer.Typer(help="Fetch new papers from live sources (resumable).")
app.add_typer(sync_app, name="sync")


def _parse_date(value: str | None, flag: str):
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        err.print(f"[red]{flag}: not a date (YYYY-MM-DD): {value!r}[/red]")
        raise typer.Exit(2) from exc


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
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
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
        err.print("[red]give exactly one of --date or --since[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    if day:
        source = HfDailySource.from_settings(settings, [_parse_date(day, "--date")])
        _run_sync(settings, source, None)
        return
    start, end = _parse_date(since, "--since"), _parse_date(until, "--until")
    source = HfDailySource.from_settings(settings, since=start, until=end)
    _run_sync(settings, source, checkpoint_key_for("hf-daily", {"since": start, "until": end}))


papers_app = typer.Typer(help="Look at papers in the store.")
app.add_typer(papers_app, name="papers")


@papers_app.command("show")
def papers_show(
    paper_id: str = typer.Argument(..., help="arXiv id or URL."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one paper with its versions and links."""
    from paperroute.models import InvalidPaperId, canonical_id
    from paperroute.sources.jsonl import paper_to_json
    from paperroute.store.papers import get_paper

    try:
        pid = canonical_id(paper_id)
    except InvalidPaperId as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    paper = get_paper(open_engine(get_settings()), pid)
    if paper is None:
        err.print(f"[red]paper {pid} is not in the store[/red]")
        raise typer.Exit(1)
    if as_json:
        print_json(paper_to_json(paper))
        return
    _print_paper(paper)


def _print_paper(paper) -> None:
    out = Console()
    out.print(f"[bold]{paper.title}[/bold]  ({paper.id}v{paper.latest_version or '?'})")
    out.print(", ".join(paper.author_names), highlight=False)
    out.print(
        f"categories: {' '.join(paper.categories)}   announced: {paper.announced}   "
        f"upvotes: {paper.total_upvotes} (HF {paper.hf_upvotes})",
        highlight=False,
    )
    for label, url in (
        ("abstract", paper.abs_url),
        ("pdf", paper.pdf_url),
        ("code", paper.code_url),
        ("project", paper.project_url),
    ):
        if url:
            out.print(f"{label}: {url}", highlight=False)
    if paper.github_stars is not None:
        out.print(f"GitHub stars: {paper.github_stars}")
    for v in paper.versions:
        out.print(f"v{v.version}: {v.submitted or 'date unknown'}", highlight=False)
    out.print()
    out.print(paper.abstract, highlight=False)


@app.command()
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts of papers, versions, sources and categories in the store."""
    from paperroute.store.papers import store_stats

    data = store_stats(open_engine(get_settings()))
    if as_json:
        print_json(data)
        return
    out = Console()
    for key, value in data.items():
        if isinstance(value, dict):
            out.print(f"{key}:")
            for k, v in value.items():
                out.print(f"  {k:<24} {v}", highlight=False)
        else:
            out.print(f"{key:<26} {value}", highlight=False)


@app.command()
def config(dump: bool = typer.Option(True, "--dump", help="Print effective settings.")) -> None:
    """Print the effective settings (secrets masked)."""
    print_json(get_settings().dump())


# --- digests and the worker (digest/, jobs/) ---------------------------------------------------

digest_app = typer.Typer(help="Email digests: send the due ones, preview one.")
app.add_typer(digest_app, name="digest")


@digest_app.command("send")
def digest_send(
    dry_run: bool = typer.Option(False, "--dry-run", help="List due digests; send nothing."),
    to: str | None = typer.Option(None, "--to", help="Only the digest of this address."),
    lease_seconds: float = typer.Option(300.0, help="Seconds a claimed digest stays ours."),
    retries: int = typer.Option(3, help="Tries per message on temporary SMTP errors."),
    backoff: float = typer.Option(1.0, help="Seconds before the second try (doubles)."),
) -> None:
    """Send every digest that is due now (none lost; a crash may repeat one, same Message-ID)."""
    from paperroute.digest.delivery import DeliveryOptions, due_subscriptions, send_due_digests
    from paperroute.jobs import yield_cpu_to_requests

    yield_cpu_to_requests()
    from paperroute.search.service import SearchService

    settings = get_settings()
    engine = open_engine(settings)
    search = SearchService(settings, engine)
    if dry_run:
        from paperroute.digest.delivery import preview_digest

        for sub, period in due_subscriptions(engine, _now(), to):
            digest = preview_digest(settings, engine, sub, search)
            sizes = {s.key: len(s.items) for s in digest.sections}
            print_json({"email": sub.email, "period": period, "papers": len(digest.paper_ids),
                        "sections": sizes})  # fmt: skip
        return
    options = DeliveryOptions(lease_seconds=lease_seconds, attempts=retries, backoff=backoff)
    report = send_due_digests(settings, engine, search, only_email=to, options=options)
    print_json(report.as_dict())
    if report.stopped:
        raise typer.Exit(1)


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


@digest_app.command("preview")
def digest_preview(
    email: str = typer.Argument(..., help="Subscribed address."),
    html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
) -> None:
    """Print the digest this address would get now (nothing is sent or recorded)."""
    from paperroute.digest.delivery import preview_digest
    from paperroute.digest.render import render_digest
    from paperroute.search.service import SearchService
    from paperroute.store.subscriptions import get_subscription_by_email

    settings = get_settings()
    engine = open_engine(settings)
    sub = get_subscription_by_email(engine, email)
    if sub is None:
        err.print(f"[red]no subscription for {email}[/red]")
        raise typer.Exit(1)
    digest = preview_digest(settings, engine, sub, SearchService(settings, engine))
    html_part, text_part = render_digest(settings, sub, digest)
    sys.stdout.write(html_part if html else text_part)


@app.command()
def subscribe(
    email: str = typer.Argument(..., help="Address to send digests to."),
    cadence: str = typer.Option("daily", help="daily or weekly."),
    weekday: int = typer.Option(0, help="Weekly digests: 0=Monday .. 6=Sunday."),
    hour: int = typer.Option(7, help="Local hour to send at (0-23)."),
    timezone: str = typer.Option("UTC", help="IANA time zone, e.g. Europe/Berlin."),
    topic: list[str] = typer.Option([], help="A topic in plain words (repeatable)."),
    author: list[str] = typer.Option([], help="An author to follow (repeatable)."),
    category: list[str] = typer.Option([], help="An arXiv category to follow (repeatable)."),
    send_empty: bool = typer.Option(False, help="Send a digest even when nothing matched."),
) -> None:
    """Subscribe an address; it gets a confirmation link and nothing else until it is clicked."""
    from paperroute.digest.render import subscription_message
    from paperroute.mail import MailError, send_email
    from paperroute.store.subscriptions import Preferences, SubscriptionError
    from paperroute.store.subscriptions import subscribe as add_subscription

    settings = get_settings()
    engine = open_engine(settings)
    prefs = Preferences(cadence=cadence, weekday=weekday, send_hour=hour, timezone=timezone,
                        topics=topic, follow_authors=author, follow_categories=category,
                        send_empty=send_empty)  # fmt: skip
    try:
        sub = add_subscription(engine, email, prefs)
    except SubscriptionError as exc:
        err.print(f"[red]subscribe:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        send_email(settings, subscription_message(settings, sub))
    except MailError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_json({"email": sub.email, "status": sub.status, "confirmation_sent": True})


@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Run the due jobs once and exit."),
    tick: float = typer.Option(15.0, help="Seconds between scheduler rounds."),
    status: bool = typer.Option(False, "--status", help="Print each job's last run and exit."),
) -> None:
    """Run the periodic jobs (syncs, embedding, digests); several workers may share a database."""
    import signal
    import threading

    from paperroute.jobs import yield_cpu_to_requests
    from paperroute.jobs.scheduler import job_status
    from paperroute.jobs.worker import run_worker
    from paperroute.logs import configure_logging
    from paperroute.services import Services

    yield_cpu_to_requests()
    settings = get_settings()
    engine = open_engine(settings)
    if status:
        print_json(job_status(engine))
        return
    configure_logging(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # One search service (one model, one set of indexes) for every job this process runs.
    run_worker(Services.for_worker(settings, engine), stop, tick_seconds=tick, once=once)


# --- web: serve, users (web/, app.py) -------------------------------------------------------


def prepare_database(settings: Settings, migrate_schema: bool):
    """Engine for `serve`: a new database is created, a stale one refused unless --migrate."""
    from paperroute.store.engine import (
        StaleSchemaError,
        check_schema,
        current_revision,
        make_engine,
        migrate,
    )

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    if migrate_schema or current_revision(engine) is None:
        migrate(engine)
    try:
        check_schema(engine)
    except StaleSchemaError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    return engine


def load_demo_if_empty(settings: Settings, engine) -> None:
    """Import the bundled demo corpus into an empty store (setting load_demo)."""
    from paperroute.services import LazySearch
    from paperroute.sources.demo import demo_corpus_path, demo_vectors_path
    from paperroute.sources.files import read_file
    from paperroute.sources.ingest import Ingest
    from paperroute.store.papers import count_papers, mark_demo_loaded

    if not settings.load_demo or count_papers(engine) > 0 or not demo_corpus_path().exists():
        return
    # Indexed only after the precomputed vectors are in, so the vector index gets them too.
    report = Ingest(engine).items(read_file(demo_corpus_path()), progress=False, desc="demo")
    if demo_vectors_path().exists():  # precomputed: no 20-minute embedding pass on first run
        from paperroute.store.embeddings import load_precomputed

        load_precomputed(engine, demo_vectors_path())
    mark_demo_loaded(engine)  # the site then says it is demo data (web/deps.demo_banner)
    if report.result.changed_ids:
        search = LazySearch(settings, engine, warm_up=False)
        _index_stored(search, engine, sorted(report.result.changed_ids))
    err.print(f"empty store: loaded the demo corpus ({report.summary()})", highlight=False)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Web worker processes."),
    migrate_schema: bool = typer.Option(
        False, "--migrate", help="Upgrade a database whose schema is older than this paperroute."
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the site and the API (loads the demo corpus into an empty store).

    SIGTERM or Ctrl-C stops it gracefully: no new connections, open requests finish, then the
    background jobs stop (within about 4 s) and the process exits (docs/operations.md).
    """
    import logging
    import os

    import uvicorn

    from paperroute.logs import configure_logging, log_config

    settings = get_settings()
    configure_logging(settings, log_level)
    engine = prepare_database(settings, migrate_schema)
    load_demo_if_empty(settings, engine)
    engine.dispose()
    # The app factory reads settings from the environment, so pass the CLI flags on.
    if state.data_dir:
        os.environ["PAPERROUTE_DATA_DIR"] = str(state.data_dir)
    if state.database_url:
        os.environ["PAPERROUTE_DATABASE_URL"] = state.database_url
    logging.getLogger("paperroute.cli").info("serving on http://%s:%s", host, port)
    uvicorn.run(
        "paperroute.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=log_config(settings, log_level),
        access_log=False,
        proxy_headers=True,
    )


# --- operations: backup, restore (store/backup.py) ------------------------------------------


@app.command()
def backup(
    dest: Path = typer.Argument(..., help="New directory to write the backup into."),
) -> None:
    """Back up the database while the server runs (SQLite online backup, or pg_dump)."""
    from paperroute.store.backup import BackupError, backup_database

    settings = get_settings()
    try:
        manifest = backup_database(settings.sqlalchemy_url, dest, settings.pg_bin_dir)
    except BackupError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from exc
    counts = ", ".join(f"{n} {name}" for name, n in manifest["counts"].items())
    err.print(f"backed up {manifest['backend']} to {dest}: {counts}", highlight=False)


@app.command()
def restore(
    src: Path = typer.Argument(..., help="A directory written by `paperroute backup`."),
) -> None:
    """Restore a backup into an empty database, then rebuild the search indexes from it."""
    import shutil

    from paperroute.search.service import SearchService
    from paperroute.store.backup import BackupError, restore_database

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        manifest = restore_database(src, settings.sqlalchemy_url, settings.pg_bin_dir)
    except BackupError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from exc
    # The indexes are derived from the database: ones left in this data dir describe another.
    shutil.rmtree(settings.data_dir / "index", ignore_errors=True)
    service = SearchService(settings, open_engine(settings))  # migrates an older backup
    service.open()
    lexical, vectors = service.indexes.lexical.num_docs(), len(service.indexes.vectors)
    err.print(
        f"restored {manifest['counts']['papers']} papers from {src}; search indexes rebuilt "
        f"({lexical} papers, {vectors} vectors)",
        highlight=False,
    )


users_app = typer.Typer(help="Accounts: add users, grant admin, make API tokens.")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    email: str = typer.Argument(..., help="Email address."),
    admin: bool = typer.Option(False, "--admin", help="Give the admin role."),
) -> None:
    """Create a user (or promote an existing one with --admin)."""
    from paperroute.store.users import add_user

    engine = open_engine(get_settings())
    try:
        user = add_user(engine, email, is_admin=admin)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    err.print(f"user {user.id} {user.email}{' (admin)' if user.is_admin else ''}", highlight=False)


@users_app.command("list")
def users_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users."""
    from paperroute.store.users import list_users

    rows = [
        {"id": u.id, "email": u.email, "admin": u.is_admin, "created_at": u.created_at}
        for u in list_users(open_engine(get_settings()))
    ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        sys.stdout.write(f"{r['id']}\t{r['email']}\t{'admin' if r['admin'] else ''}\n")


@users_app.command("admin")
def users_admin(
    email: str = typer.Argument(..., help="Email address."),
    revoke: bool = typer.Option(False, "--revoke", help="Take the admin role away."),
) -> None:
    """Grant (or with --revoke, take away) the admin role."""
    from paperroute.store.users import set_admin

    user = set_admin(open_engine(get_settings()), email, not revoke)
    err.print(f"{user.email}: admin={user.is_admin}", highlight=False)


@users_app.command("token")
def users_token(
    email: str = typer.Argument(..., help="Email of an existing user."),
    name: str = typer.Option("cli", help="A name to recognise the token by."),
) -> None:
    """Create an API token for a user and print it (shown once)."""
    from paperroute.store.auth import create_api_token
    from paperroute.store.users import get_user_by_email

    engine = open_engine(get_settings())
    user = get_user_by_email(engine, email)
    if user is None:
        err.print(f"[red]no user {email}; add it with `paperroute users add`[/red]")
        raise typer.Exit(2)
    sys.stdout.write(create_api_token(engine, user.id, name) + "\n")


# --- search: embed, search, similar, reindex (search/) --------------------------------------


def open_search(settings: Settings):
    """A SearchService with its indexes checked (messages about rebuilds go to stderr)."""
    from paperroute.search.service import SearchService

    service = SearchService(settings, open_engine(settings))
    for message in service.open():
        err.print(f"[yellow]search:[/yellow] {message}", highlight=False)
    return service


def _print_results(results, as_json: bool) -> None:
    if as_json:
        print_json([{**h.to_dict(), "title": h.title, "score": h.score} for h in results.hits])
        return
    if results.message:
        err.print(results.message, highlight=False)
    for hit in results.hits:
        sys.stdout.write(f"{hit.id}\t{hit.score:.4f}\t{hit.title}\n")
    err.print(f"{len(results.hits)} of {results.total} ({results.took_ms:.0f} ms)", highlight=False)


@app.command()
def embed(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    limit: int | None = typer.Option(None, help="Embed at most this many papers."),
    threads: int = typer.Option(
        0, min=0, help="CPU threads for the model (0: all cores; the web server leaves one free)."
    ),
) -> None:
    """Embed new or changed papers (resumable: safe to interrupt and run again)."""
    service = open_search(get_settings())
    # A batch job from the command line may take every core: on 2 quiet cores bf16 ran
    # 36.8 texts/s on two threads against 21.3 on one (bench/embed.py variants).
    service.embedder.batch_threads = threads or os.cpu_count() or 1
    try:
        n = service.embed_pending(progress=not quiet, limit=limit)
    except KeyboardInterrupt:
        service.indexes.save_vectors()
        err.print("interrupted: finished batches are saved; run `paperroute embed` again")
        raise typer.Exit(130) from None
    err.print(f"embedded {n} papers with {service.model}", highlight=False)


@app.command()
def search(
    query: str = typer.Argument(..., help='Words, "a phrase", author:NAME, cat:cs.CL, or an id.'),
    limit: int = typer.Option(10, "--limit", "-k", help="Number of results."),
    sort: str = typer.Option("relevance", help="relevance, date or upvotes."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Hybrid keyword + semantic search."""
    if sort not in {"relevance", "date", "upvotes"}:
        err.print("[red]--sort must be relevance, date or upvotes[/red]")
        raise typer.Exit(2)
    _print_results(open_search(get_settings()).search(query, sort=sort, limit=limit), as_json)


@app.command()
def similar(
    paper_id: str = typer.Argument(..., help="arXiv id or URL."),
    limit: int = typer.Option(10, "--limit", "-k", help="Number of results."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Papers most similar to one paper (never the paper itself)."""
    results = open_search(get_settings()).similar(paper_id, k=limit)
    if results.message and not results.hits:
        err.print(f"[red]{results.message}[/red]", highlight=False)
        raise typer.Exit(1)
    _print_results(results, as_json)


@app.command()
def reindex(quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.")) -> None:
    """Rebuild this node's search indexes from the database."""
    counts = open_search(get_settings()).reindex(progress=not quiet)
    err.print(f"indexed {counts['papers']} papers and {counts['vectors']} vectors", highlight=False)


# --- for you: recommend, library import/export (ranking/recommend.py, library/) --------------


def _user_or_exit(engine, email: str):
    from paperroute.store.users import get_user_by_email

    user = get_user_by_email(engine, email)
    if user is None:
        err.print(f"[red]no user {email}; add it with `paperroute users add`[/red]")
        raise typer.Exit(2)
    return user


@app.command()
def recommend(
    email: str = typer.Argument(..., help="The reader's email."),
    window: str = typer.Option("week", help="day, 3days, week or month."),
    tag: str | None = typer.Option(None, help="Only this collection (slug)."),
    limit: int = typer.Option(20, "--limit", "-k", help="Number of papers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A reader's recommendations with the saved papers each is closest to."""
    from paperroute.library.recommendations import Recommender, recommendation_json
    from paperroute.ranking.recommend import WINDOWS

    if window not in WINDOWS:
        err.print(f"[red]--window must be one of {', '.join(WINDOWS)}[/red]")
        raise typer.Exit(2)
    search = open_search(get_settings())
    user = _user_or_exit(search.engine, email)
    result = Recommender.from_search(search.engine, search).for_reader(user.id, window, tag, limit)
    if as_json:
        print_json([{"id": r.paper_id, **recommendation_json(r)} for r in result.items])
        return
    if result.message:
        err.print(result.message, highlight=False)
    for r in result.items:
        near = ", ".join(pid for pid, _ in r.reason.closest)
        sys.stdout.write(f"{r.paper_id}\t{r.score:.3f}\tnear {near}\t{' '.join(r.reason.terms)}\n")
    err.print(f"{len(result.items)} of {result.candidates} ({result.took_ms:.0f} ms)")


library_app = typer.Typer(help="Reference-manager files (BibTeX, RIS, CSL-JSON) and accounts.")
app.add_typer(library_app, name="library")


@library_app.command("import")
def library_import(
    email: str = typer.Argument(..., help="The reader's email."),
    path: Path = typer.Argument(..., help="A .bib, .ris or CSL .json file (or an account .json)."),
    collection: str = typer.Option("Imported", help="Collection to save the papers into."),
    account: bool = typer.Option(False, "--account", help="The file is an account export."),
    offline: bool = typer.Option(False, "--offline", help="Do not fetch unknown arXiv papers."),
) -> None:
    """Import a library file into a collection, or with --account a whole account export."""
    from paperroute.library.importer import import_library
    from paperroute.store import library as store

    settings = get_settings()
    engine = open_engine(settings)
    user = _user_or_exit(engine, email)
    try:
        if account:
            result = store.import_account(
                engine, user.id, store.load_account_file(path.read_bytes())
            )
            print_json(vars(result))
            return
        report = import_library(
            engine, user.id, path.read_bytes(), collection=collection, filename=path.name,
            fetch=None if offline else cli_ingest(settings, engine).arxiv,
        )  # fmt: skip
    except (OSError, ValueError) as exc:  # incl. LibraryFileError, AccountFileError, bad JSON
        err.print(f"[red]{path}: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    for problem in [*report.errors, *report.unmatched]:
        err.print(f"{path.name}: {problem}", highlight=False)
    err.print(report.summary(), highlight=False)


@library_app.command("export")
def library_export(
    email: str = typer.Argument(..., help="The reader's email."),
    fmt: str = typer.Option("bibtex", "--format", help="bibtex, ris, csl-json or account."),
    collection: str | None = typer.Option(None, help="Collection name (default: all saved)."),
) -> None:
    """Write a reader's collection (or whole account) to standard output."""
    from paperroute.library.export import MEDIA_TYPES, export_papers
    from paperroute.store import collections as coll
    from paperroute.store import library as store
    from paperroute.store.papers import get_papers

    engine = open_engine(get_settings())
    user = _user_or_exit(engine, email)
    if fmt == "account":
        print_json(store.export_account(engine, user.id))
        return
    if fmt not in MEDIA_TYPES:
        err.print(f"[red]--format must be one of {', '.join(MEDIA_TYPES)}, account[/red]")
        raise typer.Exit(2)
    lib = store.load_reader_library(engine, user.id)
    ids = lib.positives_for(coll.slugify(collection)) if collection else lib.positives
    sys.stdout.write(export_papers(get_papers(engine, ids, with_versions=False), fmt))


# `paperroute sources` and `paperroute sync <source>` beyond arXiv/HF live in their own module.
from paperroute import cli_sources  # noqa: E402, F401


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    # `python -m paperroute.cli` runs this file as __main__; the commands other modules add
    # (cli_sources) register into the importable `paperroute.cli`, so run that one.
    from paperroute.cli import main as run_cli

    run_cli()
