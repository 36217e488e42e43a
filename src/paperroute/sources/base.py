"""The one interface every source implements, and the error type for rejected records.

A source turns responses (live HTTP or saved files) into `PaperRecord`s. It never touches the
store: `sources.ingest` writes what it yields, page by page, and saves each page's checkpoint
only after that page is stored, so an interrupted sync resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from paperroute.models import PaperRecord


@dataclass
class RecordError:
    """A record a source rejected, with enough context for a user to find it."""

    source: str
    reason: str
    record: int | None = None  # 1-based position in the file/response
    record_id: str | None = None

    def __str__(self) -> str:
        where = []
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.record_id:
            where.append(f"({self.record_id})")
        place = " ".join(where)
        return f"{self.source}: {place + ': ' if place else ''}{self.reason}"


Item = PaperRecord | RecordError


@dataclass
class Page:
    """One unit of work from a source: its items and the checkpoint to save once they are stored."""

    items: list[Item] = field(default_factory=list)
    checkpoint: Any | None = None
    done: bool = False  # True on the last page: the checkpoint can be cleared


class SourceError(RuntimeError):
    """A source failed as a whole (HTTP error feed, bad argument, unreachable server)."""


class Source(Protocol):
    """A live or offline source of papers."""

    name: str

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """Yield pages of records, starting after `checkpoint` when given."""
        ...
