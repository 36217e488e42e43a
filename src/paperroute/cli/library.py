"""For you and reference-manager files: `recommend`, `library import`, `library export`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from paperroute.cli.common import (
    app,
    cli_ingest,
    cli_services,
    err,
    fail,
    get_settings,
    open_engine,
    print_json,
)
from paperroute.cli.search import open_search


def _user_or_exit(engine, email: str):
    from paperroute.store.users import get_user_by_email

    user = get_user_by_email(engine, email)
    if user is None:
        fail(f"no user {email}; add it with `paperroute users add`", 2)
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
    from paperroute.ranking.foryou import recommendation_json
    from paperroute.ranking.recommend import WINDOWS

    if window not in WINDOWS:
        fail(f"--window must be one of {', '.join(WINDOWS)}", 2)
    settings = get_settings()
    services = cli_services(settings, open_search(settings))
    user = _user_or_exit(services.engine, email)
    result = services.recommender().for_reader(user.id, window, tag, limit)
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
    from paperroute.references.importer import import_library
    from paperroute.store import account as account_store

    settings = get_settings()
    engine = open_engine(settings)
    user = _user_or_exit(engine, email)
    try:
        if account:
            result = account_store.import_account(
                engine, user.id, account_store.load_account_file(path.read_bytes())
            )
            print_json(vars(result))
            return
        report = import_library(
            engine, user.id, path.read_bytes(), collection=collection, filename=path.name,
            fetch=None if offline else cli_ingest(settings, engine).arxiv,
        )  # fmt: skip
    except (OSError, ValueError) as exc:  # incl. LibraryFileError, AccountFileError, bad JSON
        fail(f"{path}: {exc}", 2)
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
    from paperroute.references.export import MEDIA_TYPES, export_papers
    from paperroute.store import account as account_store
    from paperroute.store import collections as coll
    from paperroute.store import readers
    from paperroute.store.papers import get_papers

    engine = open_engine(get_settings())
    user = _user_or_exit(engine, email)
    if fmt == "account":
        print_json(account_store.export_account(engine, user.id))
        return
    if fmt not in MEDIA_TYPES:
        fail(f"--format must be one of {', '.join(MEDIA_TYPES)}, account", 2)
    lib = readers.load_reader_library(engine, user.id)
    ids = lib.positives_for(coll.slugify(collection)) if collection else lib.positives
    sys.stdout.write(export_papers(get_papers(engine, ids, with_versions=False), fmt))
