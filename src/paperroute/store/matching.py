"""Stored papers for reference-manager entries: by arXiv id, DOI or normalised title."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Engine, func, select

from paperroute.store.readers import paper_texts
from paperroute.store.schema import (
    papers,
)

_CHUNK = 500


def known_paper_ids(engine: Engine, ids: Sequence[str]) -> set[str]:
    """Which of these paper ids the store holds."""
    return set(paper_texts(engine, ids))


def ids_by_doi(engine: Engine, dois: Sequence[str]) -> dict[str, str]:
    """Lower-cased DOI -> paper id for papers the store knows by DOI."""
    wanted = sorted({d.lower() for d in dois if d})
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for s in range(0, len(wanted), _CHUNK):
            rows = conn.execute(
                select(papers.c.id, papers.c.doi).where(
                    func.lower(papers.c.doi).in_(wanted[s : s + _CHUNK])
                )
            )
            out.update({doi.lower(): pid for pid, doi in rows})
    return out


def title_key(title: str) -> str:
    """Title reduced to lower-case letters and digits, for matching across reference managers."""
    return re.sub(r"[^a-z0-9]+", "", (title or "").lower())


def ids_by_title(engine: Engine, titles: Sequence[str]) -> dict[str, str]:
    """title_key -> paper id for the given titles (scans titles once; only used on import)."""
    wanted = {title_key(t) for t in titles if title_key(t)}
    out: dict[str, str] = {}
    if not wanted:
        return out
    with engine.connect() as conn:
        for pid, title in conn.execute(select(papers.c.id, papers.c.title)):
            key = title_key(title)
            if key in wanted:
                out.setdefault(key, pid)
    return out
