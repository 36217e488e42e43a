"""Reading saved files: format detection and one streaming reader for every importable format.

`read_file(path, fmt)` yields PaperRecords and RecordErrors in file order (records numbered from 1),
in constant memory for JSON lines (`.gz` accepted, detected by content, not name). Re-reading a file
yields identical records: every `observed_at` comes from the data, never from the clock.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from paperroute.sources import arxiv_api, arxiv_oai, arxiv_rss, hf_daily, jsonl
from paperroute.sources.base import Item, SourceError

FORMATS: dict[str, str] = {
    "paperroute": "paperroute's own export: JSON lines, one paper per line (`paperroute export`)",
    "arxiv-listing": "arXiv listing crawl, JSON lines: id, categories, summary, first_seen",
    "arxiv-snapshot": "arXiv metadata snapshot (Kaggle), JSON lines: id, authors_parsed, versions",
    "hf-daily": "Hugging Face daily papers: archive JSON lines or a saved /api/daily_papers .json",
    "arxiv-oai": "a saved arXiv OAI-PMH ListRecords/GetRecord response (.xml)",
    "arxiv-api": "a saved arXiv API /api/query Atom response (.xml)",
    "arxiv-rss": "a saved rss.arxiv.org RSS 2.0 or Atom feed (.xml)",
}
_LINE_CONVERTERS = {
    "paperroute": jsonl.record_from_paperroute,
    "arxiv-listing": jsonl.record_from_listing,
    "arxiv-snapshot": jsonl.record_from_snapshot,
}
_SNIFF_BYTES = 1 << 16


def known_formats() -> str:
    """The format names, for error messages."""
    return ", ".join(FORMATS)


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for reading bytes, decompressing gzip (recognised by its magic number)."""
    path = Path(path)
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
    except FileNotFoundError:
        raise SourceError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return path.open("rb")


def _head(path: str | Path) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with open_binary(path) as fh:
        while size < _SNIFF_BYTES:
            try:
                chunk = fh.read(4096)
            except EOFError:  # a truncated gzip: sniff what there is, reading reports the cut
                break
            except (OSError, zlib.error) as exc:
                raise SourceError(f"{path}: corrupt gzip file: {exc}") from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)


def detect_format(path: str | Path) -> str:
    """Name the format of a file from its content; SourceError when it is none of FORMATS."""
    head = _head(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise SourceError(f"{path}: file is empty")
    if head.startswith(b"<"):
        return _detect_xml(path, head)
    if head.startswith(b"["):
        return "hf-daily"
    if head.startswith(b"{"):
        first = head.split(b"\n", 1)[0]
        try:
            obj = json.loads(first)
        except ValueError:
            obj = None  # a pretty-printed single document (the HF wrapper), or a bad first line
        if isinstance(obj, dict):
            found = _detect_line(obj)
            if found:
                return found
        if b'"data"' in head and b'"status"' in head:
            return "hf-daily"
    raise SourceError(
        f"{path}: cannot tell which format this is; use --format with one of: {known_formats()}"
    )


def _detect_xml(path: str | Path, head: bytes) -> str:
    if b"<OAI-PMH" in head:
        return "arxiv-oai"
    if b"<rss" in head or b"rss.arxiv.org" in head or b"announce_type" in head:
        return "arxiv-rss"
    if b"<feed" in head:
        return "arxiv-api"
    raise SourceError(f"{path}: unknown XML document; use --format with one of: {known_formats()}")


def _detect_line(obj: dict) -> str | None:
    keys = obj.keys()
    if "_archive_date" in keys or isinstance(obj.get("paper"), dict):
        return "hf-daily"
    if "hf_upvotes" in keys or "latest_version" in keys:
        return "paperroute"
    if "authors_parsed" in keys or "update_date" in keys or "journal-ref" in keys:
        return "arxiv-snapshot"
    if "summary" in keys and ("first_seen" in keys or "abs" in keys):
        return "arxiv-listing"
    return None


def read_file(path: str | Path, fmt: str | None = None) -> Iterator[Item]:
    """Stream the records of a saved file (format detected unless given)."""
    if fmt is not None and fmt not in FORMATS:
        raise SourceError(f"unknown format {fmt!r}; known formats: {known_formats()}")
    fmt = fmt or detect_format(path)  # raises now, not on first iteration
    return _read(path, fmt)


def _read(path: str | Path, fmt: str) -> Iterator[Item]:
    if fmt in _LINE_CONVERTERS:
        convert = _LINE_CONVERTERS[fmt]
        yield from _lines(path, fmt, lambda obj, _n: convert(obj))
    elif fmt == "hf-daily":
        yield from _read_hf(path)
    else:
        yield from _read_xml(path, fmt)


def _lines(path: str | Path, fmt: str, convert, objects_only: bool = True) -> Iterator[Item]:
    with open_binary(path) as fh:
        try:
            yield from jsonl.read_json_lines(fh, convert, fmt, objects_only=objects_only)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(f"{path}: truncated or corrupt compressed file: {exc}") from None


def _read_hf(path: str | Path) -> Iterator[Item]:
    head = _head(path).lstrip()
    if head.startswith(b"[") or not _is_json_lines(head):
        with open_binary(path) as fh:
            content = fh.read()
        day = hf_daily.date_from_name(Path(path).name)
        yield from hf_daily.parse_daily_response(content, day=day, observed=hf_daily.midnight(day))
        return

    def convert(obj, number):
        return hf_daily.record_from_entry(obj, number)

    yield from _lines(path, "hf-daily", convert, objects_only=False)


def _is_json_lines(head: bytes) -> bool:
    try:
        json.loads(head.split(b"\n", 1)[0])
    except ValueError:
        return False
    return True


def _read_xml(path: str | Path, fmt: str) -> Iterator[Item]:
    with open_binary(path) as fh:
        content = fh.read()
    if fmt == "arxiv-oai":
        yield from arxiv_oai.parse_oai_response(content).items
    elif fmt == "arxiv-api":
        yield from arxiv_api.parse_api_response(content).items
    else:
        yield from arxiv_rss.parse_feed(content).items
