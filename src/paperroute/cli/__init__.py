"""Command-line interface (Typer) over every part of paperroute: one module per command group.

`common` holds the app, its global flags, settings, the engine, the one error helper and the CLI
process's one ingest path; each other module registers its commands on import.
"""

from __future__ import annotations

from paperroute.cli.common import app, cli_ingest, get_settings, open_engine

# isort: off
# Imported in the order `paperroute --help` lists the commands.
from paperroute.cli import store, sync, digest, web, ops, search, library, sources  # noqa: F401
# isort: on

from paperroute.cli.web import load_demo_if_empty, prepare_database  # noqa: E402

__all__ = ["app", "cli_ingest", "get_settings", "load_demo_if_empty", "main", "open_engine",
           "prepare_database"]  # fmt: skip


def main() -> None:
    """Console-script entry point."""
    app()
