"""Operations and accounts: `backup`, `restore`, `users`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from paperroute.cli.common import (
    app,
    err,
    fail,
    get_settings,
    open_engine,
    print_json,
)


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
        fail(str(exc))
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
        fail(str(exc))
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
        fail(str(exc), 2)
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
        fail(f"no user {email}; add it with `paperroute users add`", 2)
    sys.stdout.write(create_api_token(engine, user.id, name) + "\n")
