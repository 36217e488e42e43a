"""What the store knows about each source: papers it contributed, paused sources, journal feeds.

Paused sources and the journal feeds admins added live in `sync_state` (one JSON value each), so
they need no table of their own; each feed's checkpoint and run history are keyed by its name
like every other source's (jobs/sources.py).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, and_, func, or_, select

from paperroute.store.papers import get_sync_state, set_sync_state
from paperroute.store.schema import paper_identifiers, papers, provenance

PAUSED_KEY = "sources:paused"
FEEDS_KEY = "sources:journal-feeds"
FEED_PREFIX = "feed:"


class FeedUrlError(ValueError):
    """A journal feed URL that cannot be added (not http(s), no host)."""


def papers_by_source(engine: Engine) -> dict[str, int]:
    """How many papers each source name has contributed (distinct papers in provenance)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(provenance.c.source, func.count(func.distinct(provenance.c.paper_id))).group_by(
                provenance.c.source
            )
        )
        return {source: count for source, count in rows}


def paused_sources(engine: Engine) -> set[str]:
    """Names of the sources an admin paused (the worker skips them)."""
    value = get_sync_state(engine, PAUSED_KEY)
    return set(value) if isinstance(value, list) else set()


def set_paused(engine: Engine, name: str, paused: bool) -> None:
    """Pause or resume one source by name."""
    names = paused_sources(engine)
    names = names | {name} if paused else names - {name}
    set_sync_state(engine, PAUSED_KEY, sorted(names) or None)


def journal_feeds(engine: Engine) -> list[dict[str, Any]]:
    """The journal feeds added by URL: [{"name", "url", "added_at"}], oldest first."""
    value = get_sync_state(engine, FEEDS_KEY)
    return [dict(f) for f in value] if isinstance(value, list) else []


def feed_name(url: str) -> str:
    """A feed's stable source name: `feed:<host>-<8 hex of the URL>`."""
    host = re.sub(r"[^a-z0-9.-]", "", (urlsplit(url).hostname or "").lower())
    return f"{FEED_PREFIX}{host}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def add_journal_feed(engine: Engine, url: str) -> tuple[dict[str, Any], bool]:
    """Add a feed by URL (kept once); returns (the feed, True when it is new)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FeedUrlError(f"journal feed: not an http(s) URL: {url[:200]!r}")
    if len(url) > 2000:
        raise FeedUrlError("journal feed: the URL is longer than 2,000 characters")
    feeds = journal_feeds(engine)
    for feed in feeds:
        if feed["url"] == url:
            return feed, False
    feed = {"name": feed_name(url), "url": url, "added_at": datetime.now(UTC).isoformat()}
    set_sync_state(engine, FEEDS_KEY, [*feeds, feed])
    return feed, True


def remove_journal_feed(engine: Engine, name: str) -> bool:
    """Remove a feed by its name or URL (its papers stay); True when one was removed."""
    feeds = journal_feeds(engine)
    kept = [f for f in feeds if name not in (f["name"], f["url"])]
    set_sync_state(engine, FEEDS_KEY, kept or None)
    return len(kept) != len(feeds)


ENRICHMENT_KINDS = ("citations", "published", "code")


def enrichment_targets(
    engine: Engine, kind: str, after: str = "", limit: int = 100
) -> list[dict[str, Any]]:
    """Up to `limit` papers (id order, ids after `after`) that lack what an enrichment adds:
    `citations` (no citation count yet), `published` (a DOI but no published-version record:
    no venue from a publisher's source), `code` (an arXiv id, no code link and no tasks).
    Each as {"id", "arxiv", "doi"}; hidden papers are skipped."""
    if kind not in ENRICHMENT_KINDS:
        raise ValueError(f"enrichment kind must be one of {', '.join(ENRICHMENT_KINDS)}")
    arxiv = (
        select(paper_identifiers.c.value)
        .where(paper_identifiers.c.paper_id == papers.c.id, paper_identifiers.c.scheme == "arxiv")
        .limit(1)
        .scalar_subquery()
    )
    conds = [papers.c.id > after, papers.c.hidden.is_(False)]
    if kind == "citations":
        conds.append(papers.c.citation_count.is_(None))
    elif kind == "published":
        conds += [
            papers.c.doi.is_not(None),
            ~papers.c.doi.startswith("10.48550/"),  # arXiv's own DOIs name the preprint
            or_(papers.c.publication_type.is_(None), papers.c.publication_type == "preprint"),
        ]
    else:
        conds += [arxiv.is_not(None), papers.c.code_url.is_(None), papers.c.tasks.is_(None)]
    query = (
        select(papers.c.id, arxiv.label("arxiv"), papers.c.doi)
        .where(and_(*conds))
        .order_by(papers.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
