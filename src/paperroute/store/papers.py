"""Papers in the store: batch upsert of source records, reads, export, stats.

`upsert_records` merges a batch in one transaction: a batch is fully written or not at all,
so an interrupted import leaves no half-written paper, and re-running it converges to the same
store.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Connection, Engine, func, select

from paperroute.models import Author, Paper, PaperRecord, Version
from paperroute.store import identity, merge
from paperroute.store.engine import ByIds, dialect_insert
from paperroute.store.schema import (
    paper_authors,
    paper_categories,
    paper_identifiers,
    paper_versions,
    papers,
    provenance,
    sync_state,
)
from paperroute.store.submissions import attach_submissions

_COMPARED = [c.name for c in papers.columns if c.name not in {"first_seen", "last_changed"}]
_SQL_CHUNK = 500  # stays under SQLite's bound-parameter limit for IN (...) lists
# Reads by id, built once: SQLAlchemy then reuses their compiled form instead of building and
# compiling an IN list on every call (a third of a cold paper page's CPU).
_PAPERS_BY_ID = ByIds(select(papers), papers.c.id)
_PROVENANCE_BY_ID = ByIds(
    select(
        provenance.c.paper_id, provenance.c.observed_at, provenance.c.source, provenance.c.fields
    ),
    provenance.c.paper_id,
)
_VERSIONS_BY_ID = ByIds(select(paper_versions), paper_versions.c.paper_id)
_IDENTIFIERS_BY_ID = ByIds(
    select(
        paper_identifiers.c.paper_id, paper_identifiers.c.scheme, paper_identifiers.c.value
    ).order_by(paper_identifiers.c.scheme, paper_identifiers.c.value),
    paper_identifiers.c.paper_id,
)


@dataclass
class UpsertResult:
    """What a batch upsert changed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_ids: set[str] = field(default_factory=set)
    added_ids: set[str] = field(default_factory=set)  # papers new to the store
    merged: dict[str, str] = field(default_factory=dict)  # absorbed paper id -> the one it joined

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.changed_ids |= other.changed_ids
        self.added_ids |= other.added_ids
        self.merged.update(other.merged)
        return self

    @property
    def changed_any(self) -> bool:
        """True when the batch wrote anything."""
        return bool(self.added or self.updated)


def _executemany(conn: Connection, stmt, rows: list[dict[str, Any]]) -> None:
    """Run an INSERT for many rows (dicts with the same keys) through `_execute_columns`."""
    if rows:
        _execute_columns(conn, stmt, dict(_columns(rows)))


def _execute_columns(conn: Connection, stmt, columns: dict[str, list]) -> None:
    """Run an INSERT for the rows given column by column (name -> a value per row) straight
    through the driver's executemany.

    SQLAlchemy's per-row parameter handling was a third of import time; here each column's
    dialect bind processor (JSON, DateTime, Boolean) is applied with one map() per column, and
    a column that is NULL in every row is left out of the statement (see `_null_by_default`).
    """
    table = stmt.table
    bound: dict[str, list] = {}
    for name, values in columns.items():
        proc = _bind_processor(table.c[name], conn.dialect)
        if values.count(None) == len(values) and (proc is None or proc(None) is None):
            # An empty column: left out when NULL is its default, else bound as NULL, without
            # calling its processor per row (~30 columns x rows calls for an arXiv batch).
            if not _null_by_default(table.c[name]):
                bound[name] = values
            continue
        bound[name] = values if proc is None else _processed(proc, values)
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(bound))
    names = compiled.positiontup if compiled.positional else list(bound)
    params = list(zip(*(bound[n] for n in names), strict=True))
    if not compiled.positional:
        params = [dict(zip(names, values, strict=True)) for values in params]
    conn.exec_driver_sql(compiled.string, params)


def _columns(rows: list[dict[str, Any]]) -> Iterator[tuple[str, list]]:
    """(name, values) of each column of rows that share their keys: one itemgetter call per row
    and a transpose, not one call per row and column (a paper row has 50)."""
    names = list(rows[0])
    if len(names) == 1:
        yield names[0], [row[names[0]] for row in rows]
        return
    transposed = zip(*map(operator.itemgetter(*names), rows), strict=True)
    yield from zip(names, map(list, transposed), strict=True)


def _bind_processor(column, dialect) -> Callable[[Any], Any] | None:
    """The column type's bind processor (looked up once per column and kind of dialect)."""
    key = (column, type(dialect), dialect._json_serializer)
    if key not in _PROCESSORS:
        _PROCESSORS[key] = _new_bind_processor(column, dialect)
    return _PROCESSORS[key]


_PROCESSORS: dict[tuple, Callable[[Any], Any] | None] = {}


def _new_bind_processor(column, dialect) -> Callable[[Any], Any] | None:
    """The type's processor; for JSON on the default serializer one that writes the same text as
    json.dumps (see `merge.dumps`) without building an encoder per value."""
    kind = column.type
    proc = kind.dialect_impl(dialect).bind_processor(dialect)
    if proc is None or not isinstance(kind, JSON) or dialect._json_serializer is not None:
        return proc
    none_as_null = kind.none_as_null
    dumps = merge.dumps

    def process(value: Any) -> str | None:
        if value is None and none_as_null:
            return None
        return dumps(value)

    return process if _same_json(proc) else proc


def _same_json(proc: Callable[[Any], Any]) -> bool:
    """True when the type's own processor writes what merge.dumps writes (checked once per
    processor on a sample: a SQLAlchemy that bound JSON differently keeps its own processor)."""
    sample = [{"name": "Zoë \u2028", "n": [1, None, True, 2.5]}, []]
    return all(proc(value) == merge.dumps(value) for value in sample)


def _processed(proc: Callable[[Any], Any], values: list) -> list:
    # first_seen and last_changed are one `now` for every row: format it once.
    first = values[0]
    if first is not None and all(v is first for v in values):
        return [proc(first)] * len(values)
    return list(map(proc, values))


def _null_by_default(column) -> bool:
    """True when leaving `column` out of an INSERT stores NULL, as binding None does (and an
    upsert's `excluded` value is then NULL too). An arXiv record leaves ~30 columns empty, and
    sqlite3 binds None through its adapter lookup: 1 us a value, a tenth of import CPU."""
    return column.default is None and column.server_default is None


def _chunks(items: Sequence, size: int = _SQL_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _normalise_loaded(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite returns naive datetimes; compare as UTC so unchanged rows stay unchanged.
    for key in (
        "published",
        "updated",
        "hf_observed_at",
        "first_seen",
        "last_changed",
        "citations_observed_at",
    ):
        value = row.get(key)
        if isinstance(value, datetime) and value.tzinfo is None:
            row[key] = value.replace(tzinfo=UTC)
    return row


def _load_existing(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        for row in _PAPERS_BY_ID.dicts(conn, chunk):
            found[row["id"]] = _normalise_loaded(row)
    return found


def _load_versions(conn: Connection, ids: list[str]) -> dict[str, dict[int, dict]]:
    found: dict[str, dict[int, dict]] = defaultdict(dict)
    for chunk in _chunks(ids):
        for data in _VERSIONS_BY_ID.dicts(conn, chunk):
            pid = data.pop("paper_id")
            if isinstance(data["submitted"], datetime) and data["submitted"].tzinfo is None:
                data["submitted"] = data["submitted"].replace(tzinfo=UTC)
            found[pid][data["version"]] = data
    return found


def upsert_records(engine: Engine, records: Iterable[PaperRecord]) -> UpsertResult:
    """Merge a batch of source records into the store in one transaction.

    Records are resolved to stored papers by any shared identifier, else by title (see
    store/identity.py); stored papers a batch ties together become one.
    """
    batch = [merge.scrub_record(r) for r in records]  # no NUL in anything stored
    if not batch:
        return UpsertResult()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        plan = identity.plan_batch(conn, batch)
        return _upsert_grouped(conn, plan, now)


def _upsert_grouped(conn: Connection, plan: identity.Plan, now: datetime) -> UpsertResult:
    by_id = plan.by_id
    absorbed_by: dict[str, list[str]] = defaultdict(list)
    for loser, survivor in sorted(plan.absorbed.items()):
        absorbed_by[survivor].append(loser)
    ids = list(dict.fromkeys([*by_id, *absorbed_by]))
    existing = _load_existing(conn, ids + list(plan.absorbed))
    versions = _load_versions(conn, list(existing))  # new papers have no versions yet
    prov_rows = _provenance_rows(by_id)
    observations = _publication_observations(conn, by_id, prov_rows, existing, absorbed_by)
    result = UpsertResult(merged=dict(plan.absorbed))
    inserts, updates, changed_versions = [], [], {}
    for pid in ids:
        before = existing.get(pid)
        row = dict(before) if before else merge.new_row(pid, now)
        vers = {k: dict(v) for k, v in versions.get(pid, {}).items()}
        for loser in absorbed_by.get(pid, ()):
            merge.absorb_row(row, existing[loser], list(versions.get(loser, {}).values()))
            for number, data in versions.get(loser, {}).items():
                vers.setdefault(number, dict(data))
        for rec in sorted(by_id.get(pid, ()), key=_observation_order):
            texts = merge.record_texts(rec)  # cleaned once for the row and its version
            merge.merge_record(row, rec, texts)
            merge.merge_versions(vers, rec, texts)
        if pid in observations:
            merge.refold_publication(row, observations[pid])
        merge.finish_row(row)
        merge.refresh_match_key(row, before)
        if vers != versions.get(pid, {}):
            changed_versions[pid] = vers
        if before is None:
            inserts.append(row)
            result.added += 1
            result.changed_ids.add(pid)
            result.added_ids.add(pid)
        elif any(row[c] != before[c] for c in _COMPARED) or pid in changed_versions:
            row["last_changed"] = now
            updates.append(row)
            result.updated += 1
            result.changed_ids.add(pid)
        else:
            result.unchanged += 1
    _write_papers(conn, inserts, updates)
    identity.move_dependents(conn, plan.absorbed)
    _write_versions(conn, changed_versions)
    _write_identifiers(conn, plan.identifiers)
    # Records seen before hit the unique constraint and are skipped by the database.
    _executemany(conn, dialect_insert(conn, provenance).on_conflict_do_nothing(), prov_rows)
    return result


def _write_identifiers(conn: Connection, pairs: dict[tuple[str, str], str]) -> None:
    rows = [{"scheme": s, "value": v, "paper_id": pid} for (s, v), pid in pairs.items()]
    _executemany(conn, dialect_insert(conn, paper_identifiers).on_conflict_do_nothing(), rows)


def _observation_order(record: PaperRecord) -> tuple:
    observed = merge._as_utc(record.observed_at) or datetime.min.replace(tzinfo=UTC)
    return (observed, record.version or 0)


def _publication_observations(
    conn: Connection,
    by_id: dict[str, list[PaperRecord]],
    prov_rows: list[dict[str, Any]],
    existing: dict[str, dict[str, Any]],
    absorbed_by: dict[str, list[str]],
) -> dict[str, list[tuple[datetime, str, str]]]:
    """(observed at, source, fields) of every observation, stored and new, of the papers whose
    publication fields this batch may change: papers a published-version record reaches, and
    stored papers that hold one's fields (a preprint arriving later must not undo them)."""
    survivor = {loser: pid for pid, losers in absorbed_by.items() for loser in losers}
    wanted = {
        survivor.get(pid, pid)
        for pid, row in existing.items()
        if merge.is_published_type(row["publication_type"])
    }
    wanted |= {pid for pid, recs in by_id.items() if any(map(merge.is_published, recs))}
    if not wanted:
        return {}
    new: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    for r in prov_rows:
        new[r["paper_id"]].append((r["observed_at"], r["source"], r["fields"]))
    stored_ids = [p for p in existing if survivor.get(p, p) in wanted]
    out = {pid: list(new.get(pid, ())) for pid in wanted}
    for chunk in _chunks(stored_ids):
        for pid, observed, source, fields_json in _PROVENANCE_BY_ID.execute(conn, list(chunk)):
            out[survivor.get(pid, pid)].append((merge._as_utc(observed), source, fields_json))
    return out


def _provenance_rows(by_id: dict[str, list[PaperRecord]]) -> list[dict[str, Any]]:
    rows, seen = [], set()
    for pid, recs in by_id.items():
        for rec in recs:
            asserted = merge.canonical_json(merge.record_fields(rec))
            key = (pid, rec.source, merge.fields_hash(rec.source, asserted))
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "paper_id": pid,
                    "source": rec.source,
                    "record_hash": key[2],
                    "observed_at": merge._as_utc(rec.observed_at) or datetime.now(UTC),
                    "fields": asserted,
                }
            )
    return rows


def _write_papers(conn: Connection, inserts: list[dict], updates: list[dict]) -> None:
    rows = inserts + updates
    if not rows:
        return
    stmt = dialect_insert(conn, papers)
    keep = {"id", "first_seen", "upvotes", "saves", "num_comments", "hidden", "featured"}
    stmt = stmt.on_conflict_do_update(
        index_elements=[papers.c.id],
        set_={c.name: stmt.excluded[c.name] for c in papers.columns if c.name not in keep},
    )
    for row in rows:
        row.setdefault("upvotes", 0)
        row.setdefault("saves", 0)
        row.setdefault("num_comments", 0)
        row.setdefault("hidden", False)
        row.setdefault("featured", False)
    _executemany(conn, stmt, rows)
    ids = [r["id"] for r in updates]
    for chunk in _chunks(ids):
        conn.execute(paper_authors.delete().where(paper_authors.c.paper_id.in_(chunk)))
        conn.execute(paper_categories.delete().where(paper_categories.c.paper_id.in_(chunk)))
    # In name order: the name index then takes its new entries page by page, not at random
    # (a third of the time of inserting the authors of the arXiv corpus). Built as columns, not
    # a dict per author (a paper has six on average).
    authors = sorted(
        (
            (author_key(a["name"]), r["id"], i, a["name"])
            for r in rows
            for i, a in enumerate(r["authors"])
        ),
        key=operator.itemgetter(0),
    )
    if authors:
        keys, ids, positions, names = map(list, zip(*authors, strict=True))
        columns = {"paper_id": ids, "position": positions, "name": names, "name_key": keys}
        _execute_columns(conn, paper_authors.insert(), columns)
    cats = [(r["id"], c, c == r["primary_category"]) for r in rows for c in r["categories"]]
    if cats:
        ids, names, primary = map(list, zip(*cats, strict=True))
        columns = {"paper_id": ids, "category": names, "is_primary": primary}
        _execute_columns(conn, paper_categories.insert(), columns)


def _write_versions(conn: Connection, changed: dict[str, dict[int, dict]]) -> None:
    rows = [
        {
            "paper_id": pid,
            "version": v,
            "submitted": data.get("submitted"),
            "title": data.get("title"),
            "abstract": data.get("abstract"),
            "size": data.get("size"),
        }
        for pid, vers in changed.items()
        for v, data in vers.items()
    ]
    if not rows:
        return
    stmt = dialect_insert(conn, paper_versions)
    stmt = stmt.on_conflict_do_update(
        index_elements=[paper_versions.c.paper_id, paper_versions.c.version],
        set_={k: stmt.excluded[k] for k in ("submitted", "title", "abstract", "size")},
    )
    _executemany(conn, stmt, rows)


def author_key(name: str) -> str:
    """Key used to find an author's papers: case- and space-insensitive."""
    return merge.squash_spaces(name.lower())


def row_to_paper(
    row: dict[str, Any], versions: list[dict] | None = None, identifiers: dict | None = None
) -> Paper:
    """Build a Paper from a papers row (and its version rows and identifiers)."""
    return Paper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=[Author(a["name"], list(a.get("affiliations") or [])) for a in row["authors"]],
        primary_category=row["primary_category"],
        categories=list(row["categories"]),
        published=merge._as_utc(row["published"]),
        updated=merge._as_utc(row["updated"]),
        announced=row["announced"],
        # 0 ranks an unversioned preprint's text in the store (merge._text_rank); it is no
        # arXiv version, so a reader (and an export) sees none.
        latest_version=row["latest_version"] or None,
        comments=row["comments"],
        journal_ref=row["journal_ref"],
        doi=row["doi"],
        license=row["license"],
        abs_url=row["abs_url"],
        pdf_url=row["pdf_url"],
        code_url=row["code_url"],
        project_url=row["project_url"],
        github_stars=row["github_stars"],
        hf_upvotes=row["hf_upvotes"] or 0,
        upvotes=row["upvotes"] or 0,
        saves=row["saves"] or 0,
        num_comments=row["num_comments"] or 0,
        keywords=list(row["keywords"] or []),
        ai_summary=row["ai_summary"],
        organization=row["organization"],
        submitter=row["submitter"],
        versions=[
            Version(
                version=v["version"],
                submitted=merge._as_utc(v["submitted"]),
                title=v["title"],
                abstract=v["abstract"],
                size=v["size"],
            )
            for v in sorted(versions or [], key=lambda v: v["version"])
        ],
        hidden=bool(row["hidden"]),
        featured=bool(row["featured"]),
        identifiers=dict(identifiers or {}),
        tasks=list(row.get("tasks") or []),
        **{name: row.get(name) for name in _PAPER_EXTRAS},
    )


_PAPER_EXTRAS = (
    *(n for n in merge.PUBLICATION_FIELDS),
    "citation_count",
    "influential_citations",
    "citations_source",
    "tldr",
    "tldr_source",
)


def get_papers(engine: Engine, ids: Sequence[str], with_versions: bool = True) -> list[Paper]:
    """Papers by id, in the order asked; unknown ids are skipped."""
    ids = list(dict.fromkeys(ids))
    with engine.connect() as conn:
        rows = _load_existing(conn, ids)
        versions = _load_versions(conn, ids) if with_versions else {}
        idents = _load_identifiers(conn, ids) if with_versions else {}
        found = [
            row_to_paper(
                rows[i],
                list(versions.get(i, {}).values()) if with_versions else None,
                idents.get(i),
            )
            for i in ids
            if i in rows
        ]
        attach_submissions(conn, found)
    return found


def _load_identifiers(conn: Connection, ids: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(ids):
        for row in _IDENTIFIERS_BY_ID.dicts(conn, chunk):
            found[row["paper_id"]].setdefault(row["scheme"], row["value"])
    return found


def resolve_paper_id(engine: Engine, raw: str) -> str | None:
    """The id of the paper a URL names by any of its identifiers (store/identity.py)."""
    with engine.connect() as conn:
        return identity.resolve_id(conn, raw)


def get_paper(engine: Engine, paper_id: str) -> Paper | None:
    """One paper with its versions, or None."""
    found = get_papers(engine, [paper_id])
    return found[0] if found else None


def iter_papers(engine: Engine, batch: int = 2000) -> Iterator[Paper]:
    """Every paper, ordered by id, with versions; streams in batches (constant memory)."""
    last = ""
    while True:
        with engine.connect() as conn:
            ids = list(
                conn.execute(
                    select(papers.c.id).where(papers.c.id > last).order_by(papers.c.id).limit(batch)
                ).scalars()
            )
        if not ids:
            return
        yield from get_papers(engine, ids)
        last = ids[-1]


def count_papers(engine: Engine) -> int:
    """Number of papers in the store."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(papers)).scalar_one()


def store_stats(engine: Engine) -> dict[str, Any]:
    """Counts a user wants to see after an import."""
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(papers)).scalar_one()
        with_code = conn.execute(
            select(func.count()).select_from(papers).where(papers.c.code_url.is_not(None))
        ).scalar_one()
        upvoted = conn.execute(
            select(func.count()).select_from(papers).where(papers.c.hf_upvotes > 0)
        ).scalar_one()
        versions = conn.execute(select(func.count()).select_from(paper_versions)).scalar_one()
        span = conn.execute(
            select(func.min(papers.c.announced), func.max(papers.c.announced))
        ).one()
        by_source = dict(
            conn.execute(
                select(provenance.c.source, func.count(func.distinct(provenance.c.paper_id)))
                .group_by(provenance.c.source)
                .order_by(provenance.c.source)
            ).all()
        )
        top_cats = conn.execute(
            select(paper_categories.c.category, func.count())
            .where(paper_categories.c.is_primary.is_(True))
            .group_by(paper_categories.c.category)
            .order_by(func.count().desc())
            .limit(10)
        ).all()
    return {
        "papers": total,
        "versions": versions,
        "with_code": with_code,
        "with_hf_upvotes": upvoted,
        "announced_from": _iso(span[0]),
        "announced_to": _iso(span[1]),
        "papers_by_source": by_source,
        "top_primary_categories": {c: n for c, n in top_cats},
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


DEMO_STATE = "demo_corpus"  # sync_state key: the bundled demo corpus was loaded (its last day)


def announced_span(engine: Engine) -> tuple[date, date, int] | None:
    """(first day, last day, number of days) that have papers; None for an empty store."""
    with engine.connect() as conn:
        first, last, days = conn.execute(
            select(
                func.min(papers.c.announced),
                func.max(papers.c.announced),
                func.count(func.distinct(papers.c.announced)),
            )
        ).one()
    return (as_date(first), as_date(last), days) if first else None


def mark_demo_loaded(engine: Engine) -> None:
    """Remember that the store holds the bundled demo corpus, and up to which day."""
    span = announced_span(engine)
    set_sync_state(engine, DEMO_STATE, {"last_day": span[1].isoformat() if span else None})


def demo_days(engine: Engine) -> tuple[date, date, int] | None:
    """The days the demo corpus covers while the store still serves only it, else None.

    Once a real sync brings a later day, the store is no longer a demo.
    """
    state = get_sync_state(engine, DEMO_STATE)
    span = announced_span(engine)
    if not isinstance(state, dict) or span is None or span[1].isoformat() != state.get("last_day"):
        return None
    return span


def get_sync_state(engine: Engine, key: str) -> Any | None:
    """A saved checkpoint value (e.g. an OAI-PMH resumption token), or None."""
    with engine.connect() as conn:
        return conn.execute(select(sync_state.c.value).where(sync_state.c.key == key)).scalar()


def set_sync_state(engine: Engine, key: str, value: Any) -> None:
    """Save (or with value None, clear) a checkpoint."""
    with engine.begin() as conn:
        conn.execute(sync_state.delete().where(sync_state.c.key == key))
        if value is not None:
            conn.execute(
                sync_state.insert(), {"key": key, "value": value, "updated_at": datetime.now(UTC)}
            )


def paper_rows(
    engine: Engine, ids: Sequence[str], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Some columns of papers by id (columns by name; the first must be "id"), keyed by id.

    Search loads ~200 candidate rows per query. When no column needs SQLAlchemy's result
    processing (no JSON), the rows come straight from the driver: 1.7 ms per 200 rows at 1M
    papers against 2.4 ms (bench/search.py). Values are then the driver's own: `announced` is
    ISO text on SQLite and a date on PostgreSQL, flags are 0/1 on SQLite.
    """
    ids = list(dict.fromkeys(ids))
    columns = [papers.c[n] for n in names]
    out: dict[str, dict[str, Any]] = {}
    if not ids:
        return out
    plain = not any(isinstance(c.type, JSON) for c in columns)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    with engine.connect() as conn:
        for chunk in _chunks(ids):
            if plain:
                sql = (
                    f"SELECT {', '.join(names)} FROM papers "
                    f"WHERE id IN ({', '.join([mark] * len(chunk))})"
                )
                # The driver's own rows: iterating SQLAlchemy's result costs ~2 us per row.
                result = conn.exec_driver_sql(sql, tuple(chunk)).cursor.fetchall()
            else:
                result = conn.execute(select(*columns).where(papers.c.id.in_(chunk)))
            out.update({r[0]: dict(zip(names, r, strict=True)) for r in result})
    return out


INDEX_COLUMNS = (
    "id",
    "title",
    "abstract",
    "authors",
    "categories",
    "announced",
    "code_url",
    "hf_upvotes",
    "upvotes",
    "hidden",
    "venue",
    "issn",
    "citation_count",
)


def as_date(value: Any) -> date | None:
    """A driver's `announced` value (ISO text on SQLite, a date on PostgreSQL) as a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def db_time(engine: Engine, when: datetime) -> datetime:
    """`when` as this dialect compares it: SQLite stores naive UTC text, PostgreSQL aware."""
    return when.replace(tzinfo=None) if engine.dialect.name == "sqlite" else when


def _index_row(row: Any) -> dict[str, Any]:
    announced = as_date(row["announced"])
    authors = row["authors"] or []
    return {
        "id": row["id"],
        "title": row["title"] or "",
        "abstract": row["abstract"] or "",
        "authors": [a["name"] if isinstance(a, dict) else str(a) for a in authors],
        "categories": list(row["categories"] or []),
        "announced": announced,
        "has_code": bool(row["code_url"]),
        "upvotes": int(row["hf_upvotes"] or 0) + int(row["upvotes"] or 0),
        "venues": [v for v in (row["venue"], row["issn"]) if v],
        "citations": row["citation_count"],  # None: no source has counted them
    }


def index_rows(
    engine: Engine,
    since: datetime | None = None,
    ids: Sequence[str] | None = None,
    batch: int = 2000,
) -> Iterator[list[dict[str, Any]]]:
    """What the search indexes hold of each paper, as plain values, in batches: the papers
    `ids`, or every paper (changed at or after `since`) in id order."""
    if ids is not None:
        for chunk in _chunks(list(ids)):
            query = select(*(papers.c[n] for n in INDEX_COLUMNS)).where(
                papers.c.id.in_(list(chunk))
            )
            with engine.connect() as conn:
                yield [_index_row(r) for r in conn.execute(query).mappings()]
        return
    last = ""
    while True:
        query = select(*(papers.c[n] for n in INDEX_COLUMNS)).where(papers.c.id > last)
        if since is not None:
            query = query.where(papers.c.last_changed >= db_time(engine, since))
        with engine.connect() as conn:
            rows = [
                _index_row(r)
                for r in conn.execute(query.order_by(papers.c.id).limit(batch)).mappings()
            ]
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def first_seen_since(engine: Engine, since: datetime) -> dict[str, datetime]:
    """Visible papers first seen at or after `since`, with that moment (aware UTC)."""
    query = select(papers.c.id, papers.c.first_seen).where(
        papers.c.first_seen >= db_time(engine, since), papers.c.hidden.is_(False)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {pid: when if when.tzinfo else when.replace(tzinfo=UTC) for pid, when in rows}
