"""What every command shares: the Typer app and its global flags, settings, the engine, output,
the one error helper and the CLI process's one ingest path."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import NoReturn

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


def fail(message: str, code: int = 1) -> NoReturn:
    """Print the message in red on stderr (as plain text: no Rich markup, so a file name or a
    server's error cannot restyle it) and exit with `code`."""
    err.print(message, style="red", markup=False, highlight=False)
    raise typer.Exit(code)


def open_engine(settings: Settings):
    """Engine on the configured database, migrated to the newest schema."""
    from paperroute.store.engine import make_engine, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    return engine


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
    from paperroute.services import LazySearch, process_ingest

    search = LazySearch(settings, engine, warm_up=False)
    return process_ingest(settings, engine, lambda ids: _index_stored(search, engine, ids))


def cli_services(settings: Settings, search):
    """The command's one Services around its search service (recommender, mailer, ingest), as
    the worker and the web app build theirs."""
    from paperroute.services import FixedSearch, Services

    return Services.for_worker(settings, search.engine, FixedSearch(search))


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
