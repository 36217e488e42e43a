"""Engine creation and schema migrations (Alembic), for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Select,
    Table,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_PAGE_SIZE = 16384


class StaleSchemaError(RuntimeError):
    """The database schema is older than this version of paperroute."""


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite files get WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def dialect_insert(conn: Connection, table: Table):
    """An INSERT with the dialect's ON CONFLICT support (SQLite and PostgreSQL share the API)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


class ByIds:
    """A read by a list of ids, built once in two forms so SQLAlchemy reuses their compiled SQL:
    `IN (...)` for many ids, `= :id` for one. The one-id form skips expanding the IN list on
    every call, which was a fifth of a cold paper page's store reads (one id each)."""

    def __init__(self, query: Select, column) -> None:
        self.many = query.where(column.in_(bindparam("ids", expanding=True)))
        self.one = query.where(column == bindparam("id"))

        self._lean: dict[str, _LeanRead] = {}  # dialect name -> the one-id form, compiled

    def execute(self, conn: Connection, ids: list) -> CursorResult:
        """The rows for `ids` (a list short enough for one IN list)."""
        if len(ids) == 1:
            return conn.execute(self.one, {"id": ids[0]})
        return conn.execute(self.many, {"ids": list(ids)})

    def dicts(self, conn: Connection, ids: list) -> list[dict]:
        """The rows for `ids` as dicts by column name; for one id straight through the driver
        (a paper page reads four of these: SQLAlchemy's execution context cost twice the query)."""
        if len(ids) != 1:
            return [dict(row) for row in self.execute(conn, ids).mappings()]
        lean = self._lean.get(conn.dialect.name)
        if lean is None:
            lean = self._lean[conn.dialect.name] = _LeanRead.compile(self.one, conn.dialect)
        return lean.run(conn, ids[0])


@dataclass(frozen=True)
class _LeanRead:
    """A SELECT with one bound value, compiled once, run on the driver's cursor; each value goes
    through its column type's result processor, so rows equal what SQLAlchemy returns."""

    sql: str
    positional: bool
    names: tuple[str, ...]
    processors: tuple

    @classmethod
    def compile(cls, query: Select, dialect) -> _LeanRead:
        """The query's SQL and result processors for this dialect."""
        compiled = query.compile(dialect=dialect)
        columns = list(query.selected_columns)
        return cls(
            compiled.string,
            compiled.positional,
            tuple(c.name for c in columns),
            tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns),
        )

    def run(self, conn: Connection, value) -> list[dict]:
        """The rows where the bound parameter is `value`."""
        sql, params = self.sql, (value,) if self.positional else {"id": value}
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            # The engine's cursor events still see the statement (the tests that count a page's
            # queries listen to them).
            for listener in conn.dispatch.before_cursor_execute:
                sql, params = listener(conn, cursor, sql, params, None, False)
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            for listener in conn.dispatch.after_cursor_execute:
                listener(conn, cursor, sql, params, None, False)
        finally:
            cursor.close()
        pairs = list(zip(self.names, self.processors, strict=True))
        return [
            {name: proc(v) if proc else v for (name, proc), v in zip(pairs, row, strict=True)}
            for row in rows
        ]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers run while one writer writes; NORMAL sync is durable at checkpoints in WAL.
    cur = dbapi_conn.cursor()
    # Only a new, empty database takes it (before WAL; an existing store keeps its size): a paper
    # row is ~2.8 KB, so 4 KiB pages held one row each, and an import wrote 20% more bytes in 4x
    # the write calls (docs/benchmarks.md, i-ingest 4 Dec 2026).
    cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration this code knows."""
    script = ScriptDirectory.from_config(_alembic_config(None))  # type: ignore[arg-type]
    return script.get_current_head()


def known_revision(revision: str | None) -> bool:
    """True when this code's migrations include `revision` (None: an empty database)."""
    if revision is None:
        return True
    script = ScriptDirectory.from_config(_alembic_config(None))  # type: ignore[arg-type]
    return revision in {s.revision for s in script.walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema."""
    command.upgrade(_alembic_config(engine), "head")


def check_schema(engine: Engine) -> None:
    """Raise StaleSchemaError when the database is not at the newest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StaleSchemaError(
            f"database schema is at {current or 'nothing'}, this paperroute needs {head}; "
            "run `paperroute init` (or `paperroute serve --migrate`) to migrate"
        )
