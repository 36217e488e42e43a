"""Commands over the store: init, import, export, papers, stats, config."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from paperroute.cli.common import (
    _disk_full_is_an_error,
    app,
    cli_ingest,
    err,
    fail,
    get_settings,
    open_engine,
    print_json,
)
from paperroute.config import Settings


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
            fail(f"{path}: no such file")
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
            fail(report.failure)
        if report.interrupted:
            raise typer.Exit(130)
    if total_records == 0 and total_errors > 0:
        fail("nothing could be imported")


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
        fail(str(exc), 2)
    paper = get_paper(open_engine(get_settings()), pid)
    if paper is None:
        fail(f"paper {pid} is not in the store")
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
def config() -> None:
    """Print the effective settings (secrets masked)."""
    print_json(get_settings().dump())
