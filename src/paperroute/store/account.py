"""The account export and import: one JSON document holding everything a reader made
(collections, votes, not-interested marks, saved searches, digest preferences, cold-start picks,
comments and claims); importing it again adds nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from paperroute.store import collections as coll
from paperroute.store import subscriptions as subs
from paperroute.store import votes as vote_store
from paperroute.store.claims import claims_by
from paperroute.store.comments import export_member_discussion
from paperroute.store.matching import known_paper_ids
from paperroute.store.readers import as_utc, mark_not_interested, set_onboarding
from paperroute.store.schema import (
    collection_items,
    collections,
    not_interested,
    saved_searches,
    subscriptions,
    users,
    votes,
)
from paperroute.store.submissions import submissions_by

ACCOUNT_FORMAT = "paperroute-account"
ACCOUNT_VERSION = 1
_CHUNK = 500


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value else None


def export_account(engine: Engine, user_id: int) -> dict[str, Any]:
    """Everything the reader made, as one JSON-ready document."""
    with engine.connect() as conn:
        user = conn.execute(select(users).where(users.c.id == user_id)).mappings().one()
        colls = _collections(conn, user_id)
        voted = conn.execute(
            select(votes.c.paper_id, votes.c.created_at).where(votes.c.user_id == user_id)
        ).all()
        rejected = conn.execute(
            select(not_interested.c.paper_id, not_interested.c.created_at).where(
                not_interested.c.user_id == user_id
            )
        ).all()
        searches = conn.execute(
            select(saved_searches.c.name, saved_searches.c.query)
            .where(saved_searches.c.user_id == user_id)
            .order_by(saved_searches.c.id)
        ).all()
        # By owner only: an address is not proof of ownership (anyone can type one into
        # /subscribe), the confirmation that sets user_id is.
        sub_id = conn.execute(
            select(subscriptions.c.id)
            .where(subscriptions.c.user_id == user_id)
            .order_by(subscriptions.c.id)
        ).scalar()
        discussion = export_member_discussion(conn, user_id)
    return {
        "format": ACCOUNT_FORMAT,
        "version": ACCOUNT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "user": {
            "email": user["email"],
            "display_name": user["display_name"],
            "onboarding": user["onboarding"] or {},
            "handle": user["handle"],
            "orcid": user["orcid"],
        },
        "collections": colls,
        "votes": [{"id": p, "at": _iso(a)} for p, a in sorted(voted)],
        "not_interested": [{"id": p, "at": _iso(a)} for p, a in sorted(rejected)],
        "saved_searches": [{"name": n, "query": q} for n, q in searches],
        "subscription": _subscription(engine, sub_id),
        **_community(engine, user_id),
        **discussion,  # the member's own comments and comment reports
    }


def _collections(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """The reader's collections, each with its papers in the order they were added."""
    found = []
    for c in conn.execute(
        select(collections).where(collections.c.user_id == user_id).order_by(collections.c.id)
    ).mappings():
        items = conn.execute(
            select(collection_items.c.paper_id, collection_items.c.added_at)
            .where(collection_items.c.collection_id == c["id"])
            .order_by(collection_items.c.added_at, collection_items.c.paper_id)
        ).all()
        found.append(
            {
                "name": c["name"],
                "is_public": bool(c["is_public"]),
                "description": c["description"],
                "papers": [{"id": p, "added_at": _iso(a)} for p, a in items],
            }
        )
    return found


def _subscription(engine: Engine, subscription_id: int | None) -> dict[str, Any] | None:
    """The reader's digest subscription: its status and preferences (None without one)."""
    found = subs.get_subscription(engine, subscription_id) if subscription_id else None
    return {"status": found.status, "preferences": vars(found.prefs)} if found else None


def _community(engine: Engine, user_id: int) -> dict[str, Any]:
    """The member's own submissions and authorship claims, for the export."""
    return {
        "submissions": [
            {"id": s["paper_id"], "at": _iso(s["submitted_at"])}
            for s in submissions_by(engine, user_id)
        ],
        "author_claims": [
            {
                "id": c.paper_id,
                "author": c.author_name,
                "status": c.status,
                "how": c.how,
                "at": _iso(c.created_at),
                "decided_at": _iso(c.decided_at),
            }  # fmt: skip
            for c in claims_by(engine, user_id)
        ],
    }


@dataclass
class AccountImport:
    """What an account import did; `missing` are paper ids this instance does not hold."""

    collections_created: int = 0
    papers_saved: int = 0
    votes_added: int = 0
    not_interested_added: int = 0
    searches_added: int = 0
    subscription: str | None = None
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class AccountFileError(ValueError):
    """The account file is not a paperroute account export (message says why)."""


def load_account_file(raw: bytes | str) -> dict[str, Any]:
    """Parse and check an uploaded account file; raise AccountFileError saying what is wrong."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise AccountFileError(f"account file: not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AccountFileError(f"account file: not JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise AccountFileError("account file: JSON nested too deeply") from None
    return check_account_document(data)


_SHAPES = {
    "user": dict,
    "collections": list,
    "votes": list,
    "not_interested": list,
    "saved_searches": list,
    "subscription": (dict, type(None)),
}


def check_account_document(data: Any) -> dict[str, Any]:
    """Validate the document's envelope; raise AccountFileError naming the bad field."""
    if not isinstance(data, dict):
        raise AccountFileError("account file: top level must be a JSON object")
    if data.get("format") != ACCOUNT_FORMAT:
        raise AccountFileError(f"account file: field 'format' must be {ACCOUNT_FORMAT!r}")
    if data.get("version") != ACCOUNT_VERSION:
        raise AccountFileError(f"account file: unsupported version {data.get('version')!r}")
    for key, shape in _SHAPES.items():
        if key in data and not isinstance(data[key], shape):
            kind = "a list" if shape is list else "an object"
            raise AccountFileError(f"account file: field {key!r} must be {kind}")
    for n, c in enumerate(data.get("collections", []), 1):
        if isinstance(c, dict) and not isinstance(c.get("papers", []), list):
            raise AccountFileError(f"account file: field 'collections[{n}].papers' must be a list")
    for key, shape in (("onboarding", dict), ("preferences", dict)):
        parent = data.get("user" if key == "onboarding" else "subscription") or {}
        if parent.get(key) is not None and not isinstance(parent[key], shape):
            where = "user" if key == "onboarding" else "subscription"
            raise AccountFileError(f"account file: field '{where}.{key}' must be an object")
    _refuse_nul(data)
    return data


def _refuse_nul(data: Any) -> None:
    """NUL cannot be stored in PostgreSQL text and has no place in a name; name where it is."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:  # iterative: the document may be deep
        where, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            raise AccountFileError(f"account file: field {where.lstrip('.')!r} contains NUL")
        if isinstance(value, dict):
            stack.extend((f"{where}.{k}", v) for k, v in value.items())
            stack.extend((f"{where}.{k}", k) for k in value)
        elif isinstance(value, list):
            stack.extend((f"{where}[{n}]", v) for n, v in enumerate(value, 1))


def _paper_ids(entries: list, where: str, result: AccountImport) -> dict[str, datetime | None]:
    """Paper id -> when it was saved/marked (None when the file does not say)."""
    ids: dict[str, datetime | None] = {}
    for n, entry in enumerate(entries, 1):
        pid = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(pid, str) or not pid:
            result.errors.append(f"{where}[{n}]: missing paper 'id'")
            continue
        try:
            when = datetime.fromisoformat(entry.get("added_at") or entry.get("at") or "")
        except (TypeError, ValueError):
            when = None
        ids[pid] = when
    return ids


def _restore_times(engine: Engine, table, column, where, times: dict[str, datetime | None]) -> None:
    """Give re-imported rows the time they had in the export, not the time of the import."""
    with engine.begin() as conn:
        for pid, when in times.items():
            if when is not None:
                conn.execute(
                    table.update().where(where, table.c.paper_id == pid).values({column: when})
                )


def import_account(
    engine: Engine,
    user_id: int,
    data: Any,
    fetch_missing: Callable[[list[str]], set[str]] | None = None,
) -> AccountImport:
    """Merge an account export into this user's account; running it twice adds nothing."""
    data = check_account_document(data)
    result = AccountImport()
    wanted = {
        "votes": _paper_ids(data.get("votes", []), "votes", result),
        "not_interested": _paper_ids(data.get("not_interested", []), "not_interested", result),
    }
    coll_ids = []
    for n, c in enumerate(data.get("collections", []), 1):
        if not isinstance(c, dict) or not str(c.get("name") or "").strip():
            result.errors.append(f"collections[{n}]: missing 'name'")
            continue
        coll_ids.append((c, _paper_ids(c.get("papers", []), f"collections[{n}].papers", result)))
    every = sorted(
        {p for ids in wanted.values() for p in ids} | {p for _, ids in coll_ids for p in ids}
    )
    known = known_paper_ids(engine, every)
    if fetch_missing and len(known) < len(every):
        fetch_missing([p for p in every if p not in known])
        known = known_paper_ids(engine, every)
    result.missing = [p for p in every if p not in known]
    _import_marks(engine, user_id, wanted, known, result)
    _import_collections(engine, user_id, coll_ids, known, result)
    _import_rest(engine, user_id, data, result)
    return result


def _import_marks(engine, user_id, wanted, known, result: AccountImport) -> None:
    new_votes = {
        pid: when
        for pid, when in wanted["votes"].items()
        if pid in known and not vote_store.voted_ids(engine, user_id, [pid])
    }
    for pid in new_votes:
        vote_store.set_vote(engine, user_id, pid, True)
    _restore_times(engine, votes, "created_at", votes.c.user_id == user_id, new_votes)
    result.votes_added = len(new_votes)
    new_marks = {
        pid: when
        for pid, when in wanted["not_interested"].items()
        if pid in known and mark_not_interested(engine, user_id, pid)
    }
    where = not_interested.c.user_id == user_id
    _restore_times(engine, not_interested, "created_at", where, new_marks)
    result.not_interested_added = len(new_marks)


def _import_collections(engine, user_id, coll_ids, known, result: AccountImport) -> None:
    existing = {c.slug for c in coll.list_collections(engine, user_id)}
    for c, ids in coll_ids:
        name = str(c["name"]).strip()
        if coll.slugify(name) not in existing:
            made = coll.create_collection(
                engine,
                user_id,
                name,
                is_public=bool(c.get("is_public")),
                description=str(c.get("description") or ""),
            )
            existing.add(made.slug)
            result.collections_created += 1
        cid, _ = coll.save_into_collection(engine, user_id, name, [])
        before = set(coll.collection_paper_ids(engine, cid))
        coll.save_into_collection(engine, user_id, name, [p for p in ids if p in known])
        new = {p: w for p, w in ids.items() if p in known and p not in before}
        where = collection_items.c.collection_id == cid
        _restore_times(engine, collection_items, "added_at", where, new)
        result.papers_saved += len(new)


def _import_rest(engine, user_id, data, result: AccountImport) -> None:
    have = {(s["name"], s["query"]) for s in coll.list_saved_searches(engine, user_id)}
    for n, s in enumerate(data.get("saved_searches", []), 1):
        if not isinstance(s, dict) or not str(s.get("query") or "").strip():
            result.errors.append(f"saved_searches[{n}]: missing 'query'")
            continue
        name = str(s.get("name") or s["query"]).strip()
        if (name, str(s["query"]).strip()) not in have:
            coll.save_search(engine, user_id, name, str(s["query"]))
            result.searches_added += 1
    onboarding = (data.get("user") or {}).get("onboarding")
    if isinstance(onboarding, dict) and onboarding:
        set_onboarding(engine, user_id, onboarding)
    sub = data.get("subscription")
    if isinstance(sub, dict) and isinstance(sub.get("preferences"), dict):
        _import_subscription(engine, user_id, sub["preferences"], result)


def _import_subscription(engine, user_id: int, prefs: dict, result: AccountImport) -> None:
    with engine.connect() as conn:
        email = conn.execute(select(users.c.email).where(users.c.id == user_id)).scalar_one()
    try:
        fields = {k: v for k, v in prefs.items() if k in subs.Preferences.__dataclass_fields__}
        wanted = subs.Preferences(**fields).validated()
    except (subs.SubscriptionError, TypeError, ValueError) as exc:
        result.errors.append(f"subscription.preferences: {exc}")
        return
    current = subs.get_subscription_by_email(engine, email)
    if current is None:
        # A new subscription still waits for the emailed confirmation (double opt-in).
        made = subs.subscribe(engine, email, wanted, user_id=user_id)
        result.subscription = made.status
    else:
        subs.update_preferences(engine, current.id, wanted)
        result.subscription = current.status
