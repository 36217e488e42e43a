"""Bounded request parameters, shared by the web pages and the JSON API.

Every integer a URL carries is declared with one of these types, so an out-of-range value is
answered with a 422 naming the parameter (a 404 for a path id no row can have) before it reaches
SQL, where SQLite and PostgreSQL overflow, or the search index, which wants a 64-bit integer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query

MAX_PAGE = 10_000  # 50 papers a page: half a million papers deep
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns, 32-bit on PostgreSQL
MAX_COUNT = 10**9  # upvotes and other counters: far above any real paper

Page = Annotated[int, Query(ge=0, le=MAX_PAGE, description="Page number, from 0")]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id")]
ListSort = Annotated[
    Literal["votes", "published", "citations", "trending"] | None,
    Query(description="Order: most upvoted, newest, most cited, or trending"),
]
MinCitations = Annotated[
    int | None, Query(ge=0, le=MAX_COUNT, description="Only papers cited at least this often")
]
Year = Annotated[int, Path(ge=1000, le=9998, description="A venue year")]
OptionalRowId = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="A row id")]


def bounded_count(name: str, raw: str | None) -> int:
    """A counter typed into a form (empty means 0); ValueError naming the field otherwise."""
    try:
        value = int(raw or 0)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a number") from None
    if not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{name}: {raw!r} is not between 0 and {MAX_COUNT}")
    return value
