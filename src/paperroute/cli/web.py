"""The web server: `serve`, and the store it prepares (migrations, the demo corpus)."""

from __future__ import annotations

import os

import typer

from paperroute.cli.common import (
    _index_stored,
    app,
    err,
    fail,
    get_settings,
    state,
)
from paperroute.config import Settings


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
        fail(str(exc), 2)
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
