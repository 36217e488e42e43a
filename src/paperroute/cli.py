"""Command-line interface (Typer) over every part of paperroute."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from paperroute.config import Settings, load_settings

app = typer.Typer(help="paperroute: collect, rank, search and deliver research papers.")
err = Console(stderr=True)


class State:
    """Options shared by every command."""

    data_dir: Path | None = None
    database_url: str | None = None


state = State()


@app.callback()
def _main(
    data_dir: Path | None = typer.Option(None, help="Data directory (default ./data)."),
    database_url: str | None = typer.Option(None, help="Database URL (default SQLite in data dir)."),
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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
