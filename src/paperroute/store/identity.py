"""Which stored paper each record of a batch describes, and joining two stored papers into one.

A batch is resolved with a few set queries, never one per record (ingest speed): first every
identifier the batch carries is looked up in `paper_identifiers` (one query per scheme and chunk),
then records that matched nothing are looked up by `papers.match_key` (normalised title + first
author surname; years at most one apart). Records that share an identifier, and stored papers that
a record ties together, become one cluster; its key is the best one (merge.key_rank: an arXiv id
first), and the other stored papers of the cluster are absorbed into it: their votes, saves,
collections, provenance and identifiers move over, so an old URL still resolves.

Two different arXiv ids never join (a shared DOI or title cannot make two arXiv papers one), and
a title match is refused when the two sides carry different DOIs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, and_, exists, func, or_, select

from paperroute.models import IDENTIFIER_SCHEMES, PaperRecord
from paperroute.store import merge
from paperroute.store.schema import (
    collection_items,
    metadata,
    paper_identifiers,
    papers,
    sent_papers,
    votes,
)

_CHUNK = 500  # stays under SQLite's bound-parameter limit for IN (...) lists
# Rebuilt for the surviving paper (or, for embeddings, recomputed): not moved on a join.
_REBUILT = {"paper_versions", "paper_authors", "paper_categories", "embeddings"}


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class Plan:
    """A resolved batch: records by the paper key they merge into, and stored papers absorbed."""

    by_id: dict[str, list[PaperRecord]] = field(default_factory=dict)
    absorbed: dict[str, str] = field(default_factory=dict)  # absorbed paper id -> survivor id
    identifiers: dict[tuple[str, str], str] = field(default_factory=dict)  # new (scheme, value)


class _Clusters:
    """Union-find over records and stored papers that refuses to join two different arXiv ids."""

    def __init__(self) -> None:
        self.parent: dict = {}
        self.arxiv: dict = {}

    def add(self, node, arxiv: str | None) -> None:
        if node not in self.parent:
            self.parent[node] = node
            self.arxiv[node] = arxiv

    def find(self, node):
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression keeps big batches linear
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a, b) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        xa, xb = self.arxiv[ra], self.arxiv[rb]
        if xa and xb and xa != xb:
            return False
        self.parent[rb] = ra
        self.arxiv[ra] = xa or xb
        return True


def _paper_node(clusters: _Clusters, pid: str) -> tuple[str, str]:
    node = ("p", pid)
    clusters.add(node, None if ":" in pid else pid)
    return node


def plan_batch(conn: Connection, records: list[PaperRecord]) -> Plan:
    """Resolve a batch: which paper each record merges into (see the module docstring)."""
    idents = [merge.record_identifiers(r) for r in records]
    first: dict[tuple[str, str], int] = {}
    shared = False
    for i, ids in enumerate(idents):
        for pair in ids.items():
            shared = shared or pair in first
            first.setdefault(pair, i)
    owners = _owners(conn, list(first))
    if not shared:
        plan = _plain_plan(conn, records, idents, owners)
        if plan is not None:
            return plan
    clusters = _Clusters()
    for i, ids in enumerate(idents):
        clusters.add(i, ids.get("arxiv"))
        for pair in ids.items():
            clusters.union(first[pair], i)
    for pair, pid in owners.items():
        clusters.union(first[pair], _paper_node(clusters, pid))
    _match_titles(conn, records, idents, clusters)
    return _plan(records, idents, clusters, owners)


def _plain_plan(
    conn: Connection,
    records: list[PaperRecord],
    idents: list[dict],
    owners: dict[tuple[str, str], str],
) -> Plan | None:
    """The plan of the common batch, without the union-find: every record has its own arXiv id,
    no two share an identifier, none names another stored paper, and no title can match (the
    store holds only arXiv papers). None when the batch is not that simple."""
    plan = Plan()
    for rec, ids in zip(records, idents, strict=True):
        key = ids.get("arxiv")
        if key is None or any(owners.get(pair, key) != key for pair in ids.items()):
            return None
        plan.by_id.setdefault(key, []).append(rec)
        for pair in ids.items():
            if pair not in owners:
                plan.identifiers[pair] = key
    return None if _has_non_arxiv_papers(conn) else plan


def _owners(conn: Connection, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    by_scheme: dict[str, list[str]] = defaultdict(list)
    for scheme, value in pairs:
        by_scheme[scheme].append(value)
    found: dict[tuple[str, str], str] = {}
    t = paper_identifiers
    for scheme, values in by_scheme.items():
        for chunk in _chunks(values):
            query = select(t.c.value, t.c.paper_id).where(
                t.c.scheme == scheme, t.c.value.in_(list(chunk))
            )
            found.update({(scheme, v): pid for v, pid in conn.execute(query)})
    return found


def _match_titles(
    conn: Connection, records: list[PaperRecord], idents: list[dict], clusters: _Clusters
) -> None:
    """Join records that matched no stored identifier to papers (and each other) by title."""
    stored_roots = {clusters.find(n) for n in clusters.parent if isinstance(n, tuple)}
    # A record with an arXiv id can only join, by title, a paper without one: any other arXiv
    # paper has a different id (the same id matched above). Most batches are arXiv-only against
    # a store of arXiv papers; they skip the title work entirely (ingest speed).
    arxiv_only = all("arxiv" in ids for ids in idents) and not _has_non_arxiv_papers(conn)
    pending: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        if arxiv_only or clusters.find(i) in stored_roots:
            continue
        key = merge.match_key(rec.title, rec.authors[0].name if rec.authors else None)
        if key:
            pending[key].append(i)
    if not pending:
        return
    cols = (papers.c.id, papers.c.doi, papers.c.year, papers.c.published, papers.c.announced)
    rows: dict[str, list[dict]] = defaultdict(list)
    for chunk in _chunks(list(pending)):
        query = select(papers.c.match_key, *cols).where(papers.c.match_key.in_(list(chunk)))
        for row in conn.execute(query).mappings():
            rows[row["match_key"]].append(dict(row))
    for key, members in pending.items():
        for i in members:
            year, doi = merge.record_year(records[i]), idents[i].get("doi")
            for row in rows.get(key, ()):
                other = row["doi"] and merge.normalise_identifier("doi", row["doi"])
                # Refused only when both carry a DOI and they differ (a stored preprint without
                # one is the usual match of a published version).
                if merge.years_agree(year, merge.row_years(row)) and not (
                    doi and other and other != doi
                ):
                    clusters.union(i, _paper_node(clusters, row["id"]))
            for j in members:  # another record of the batch with the same title
                if j < i and _titles_agree(records[i], records[j], idents[i], idents[j]):
                    clusters.union(i, j)


def _has_non_arxiv_papers(conn: Connection) -> bool:
    """True when some stored paper is keyed by another scheme (`doi:...`): one index range
    probe per scheme, never a scan."""
    ranges = [
        and_(papers.c.id >= f"{scheme}:", papers.c.id < f"{scheme};")
        for scheme in IDENTIFIER_SCHEMES[1:]
    ]
    return conn.execute(select(papers.c.id).where(or_(*ranges)).limit(1)).first() is not None


def _titles_agree(a: PaperRecord, b: PaperRecord, ids_a: dict, ids_b: dict) -> bool:
    doi_a, doi_b = ids_a.get("doi"), ids_b.get("doi")
    if doi_a and doi_b and doi_a != doi_b:
        return False
    year_b = merge.record_year(b)
    return merge.years_agree(merge.record_year(a), {year_b} if year_b else set())


def _plan(
    records: list[PaperRecord],
    idents: list[dict],
    clusters: _Clusters,
    owners: dict[tuple[str, str], str],
) -> Plan:
    members: dict = defaultdict(lambda: ([], set()))
    for node in clusters.parent:
        recs, stored = members[clusters.find(node)]
        if isinstance(node, tuple):
            stored.add(node[1])
        else:
            recs.append(node)
    plan = Plan()
    for recs, stored in members.values():
        keys = stored | {merge.paper_key(idents[i], records[i].id) for i in recs}
        survivor = min(keys, key=merge.key_rank)
        for pid in stored - {survivor}:
            plan.absorbed[pid] = survivor
        if recs:
            plan.by_id.setdefault(survivor, []).extend(records[i] for i in sorted(recs))
        for i in sorted(recs):
            for pair in idents[i].items():
                if pair not in owners:
                    plan.identifiers.setdefault(pair, survivor)
    return plan


def _moved_tables() -> list[tuple[Table, list[list[str]]]]:
    """Every table that points at papers.id (found from the schema, so a table added later moves
    too), with the column sets besides paper_id that must stay unique when rows move."""
    out = []
    for table in metadata.sorted_tables:
        if table.name in _REBUILT or table is paper_identifiers:
            continue
        if table is not sent_papers and not any(
            fk.column is papers.c.id for fk in table.foreign_keys
        ):
            continue
        keys = [list(table.primary_key.columns)]
        keys += [list(c.columns) for c in table.constraints if hasattr(c, "columns")]
        unique = [
            [c.name for c in cols if c.name != "paper_id"]
            for cols in keys
            if any(c.name == "paper_id" for c in cols)
        ]
        out.append((table, [u for u in unique if u]))
    return out


def move_dependents(conn: Connection, absorbed: dict[str, str]) -> None:
    """Point everything that named an absorbed paper at its survivor, then delete the absorbed
    rows (their versions, authors and categories were merged into the survivor's)."""
    if not absorbed:
        return
    for table, unique in _moved_tables():
        for loser, survivor in absorbed.items():
            other = table.alias("other")
            clash = [
                exists().where(
                    other.c.paper_id == survivor, *[other.c[n] == table.c[n] for n in cols]
                )
                for cols in unique
            ]
            conn.execute(
                table.update()
                .where(table.c.paper_id == loser, *[~c for c in clash])
                .values(paper_id=survivor)
            )
            conn.execute(table.delete().where(table.c.paper_id == loser))
    for loser, survivor in absorbed.items():
        conn.execute(
            paper_identifiers.update()
            .where(paper_identifiers.c.paper_id == loser)
            .values(paper_id=survivor)
        )
    for chunk in _chunks(list(absorbed)):
        conn.execute(papers.delete().where(papers.c.id.in_(list(chunk))))
    _recount(conn, set(absorbed.values()))


def _recount(conn: Connection, ids: set[str]) -> None:
    """The survivors' vote and save counters, from the rows that moved to them."""
    n_votes = select(func.count()).where(votes.c.paper_id == papers.c.id).scalar_subquery()
    n_saves = (
        select(func.count()).where(collection_items.c.paper_id == papers.c.id).scalar_subquery()
    )
    for chunk in _chunks(sorted(ids)):
        conn.execute(
            papers.update()
            .where(papers.c.id.in_(list(chunk)))
            .values(upvotes=n_votes, saves=n_saves)
        )


def resolve_id(conn: Connection, raw: str) -> str | None:
    """The paper id that a URL's id names: the id itself, an arXiv id in any form, `doi:10.x/y`,
    `doi/10.x/y`, `acl/2024.acl-long.1`, a bare DOI; None when no paper has it."""
    if conn.execute(select(papers.c.id).where(papers.c.id == raw)).scalar() is not None:
        return raw
    for scheme, value in _candidates(raw):
        try:
            value = merge.normalise_identifier(scheme, value)
        except ValueError:
            continue
        found = conn.execute(
            select(paper_identifiers.c.paper_id).where(
                and_(paper_identifiers.c.scheme == scheme, paper_identifiers.c.value == value)
            )
        ).scalar()
        if found is not None:
            return found
    return None


def _candidates(raw: str) -> Iterator[tuple[str, str]]:
    text = raw.strip()
    for sep in (":", "/"):
        scheme, found, value = text.partition(sep)
        if found and scheme.lower() in IDENTIFIER_SCHEMES:
            yield scheme.lower(), value
    if text.startswith("10."):
        yield "doi", text
    yield "arxiv", text
