"""Search: `embed`, `search`, `similar`, `reindex`."""

from __future__ import annotations

import os
import sys

import typer

from paperroute.cli.common import (
    app,
    err,
    fail,
    get_settings,
    open_engine,
    print_json,
)
from paperroute.config import Settings
from paperroute.search.embedding import embed_pending


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
        n = embed_pending(service, progress=not quiet, limit=limit)
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
        fail("--sort must be relevance, date or upvotes", 2)
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
        fail(results.message)
    _print_results(results, as_json)


@app.command()
def reindex(quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.")) -> None:
    """Rebuild this node's search indexes from the database."""
    counts = open_search(get_settings()).reindex(progress=not quiet)
    err.print(f"indexed {counts['papers']} papers and {counts['vectors']} vectors", highlight=False)
