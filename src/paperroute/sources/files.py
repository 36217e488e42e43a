"""Reading saved files: format detection and one streaming reader for every importable format.

`read_file(path, fmt)` yields PaperRecords and RecordErrors in file order (records numbered from 1),
in bounded memory whatever the input (`.gz` accepted, detected by content, not name): JSON lines
are read at most jsonl.MAX_LINE_BYTES at a time (a longer line is rejected by number, not loaded),
XML is parsed incrementally and each record freed once read, and a single JSON document (a saved
HF response) may be at most MAX_DOCUMENT_BYTES. Re-reading a file yields identical records: every
`observed_at` comes from the data, never from the clock.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from paperroute.sources import (
    acl_anthology,
    arxiv_api,
    arxiv_oai,
    arxiv_rss,
    biorxiv,
    crossref,
    feeds,
    hf_daily,
    jsonl,
    openalex,
    openreview,
    pubmed,
)
from paperroute.sources.base import Item, SourceError

FORMATS: dict[str, str] = {
    "paperroute": "paperroute's own export: JSON lines, one paper per line (`paperroute export`)",
    "arxiv-listing": "arXiv listing crawl, JSON lines: id, categories, summary, first_seen",
    "arxiv-snapshot": "arXiv metadata snapshot (Kaggle), JSON lines: id, authors_parsed, versions",
    "hf-daily": "Hugging Face daily papers: archive JSON lines or a saved /api/daily_papers .json",
    "arxiv-oai": "a saved arXiv OAI-PMH ListRecords/GetRecord response (.xml)",
    "arxiv-api": "a saved arXiv API /api/query Atom response (.xml)",
    "arxiv-rss": "a saved rss.arxiv.org RSS 2.0 or Atom feed (.xml)",
    "acl-anthology": "an ACL Anthology collection file (data/xml/2024.acl.xml)",
    "crossref": "a saved Crossref REST API /works response (one work or a list)",
    "openalex": "a saved OpenAlex /works response (one work or a list)",
    "pubmed": "a saved PubMed efetch response (PubmedArticleSet XML)",
    "biorxiv-feed": "a saved bioRxiv/medRxiv subject RSS feed (connect.biorxiv.org)",
    "biorxiv-details": "a saved bioRxiv/medRxiv details API response (JSON)",
    "openreview": "a saved OpenReview API v2 /notes response (JSON)",
    "journal-feed": "a saved journal RSS 1.0, RSS 2.0 or Atom feed (prism: fields)",
}
_LINE_CONVERTERS = {
    "paperroute": jsonl.record_from_paperroute,
    "arxiv-listing": jsonl.record_from_listing,
    "arxiv-snapshot": jsonl.record_from_snapshot,
}
_SNIFF_BYTES = 1 << 16
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024  # JSON objects take up to ~9x their text in memory
_CHUNK = 1 << 16
_KEY = re.compile(rb'"([A-Za-z_][\w-]{0,40})"\s*:\s*(\{)?')


def known_formats() -> str:
    """The format names, for error messages."""
    return ", ".join(FORMATS)


class _Gunzip(io.RawIOBase):
    """Streaming gunzip that hands out every byte decoded before a cut, then raises EOFError.

    Written by hand because the gzip module raises EOFError from the read that reaches a
    truncation and drops what that read had decoded: a small cut file then looked empty. Output is
    produced at most one buffer at a time, so a gzip bomb never inflates in memory.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(wbits=31)
        self.input = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        """Decompress into `buffer`; 0 at the clean end of the last gzip member."""
        while True:
            if not self.input:
                self.input = self.raw.read(_CHUNK)
                if not self.input:
                    if self.inflate.eof:
                        return 0
                    raise EOFError("compressed file ended before the end-of-stream marker")
            if self.inflate.eof:  # concatenated gzip members, as `cat a.gz b.gz` makes
                self.inflate = zlib.decompressobj(wbits=31)
            out = self.inflate.decompress(self.input, len(buffer))
            tail = self.inflate.unused_data if self.inflate.eof else self.inflate.unconsumed_tail
            self.input = tail
            if out:
                buffer[: len(out)] = out
                return len(out)

    def close(self) -> None:
        """Close the compressed file too."""
        self.raw.close()
        super().close()


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for reading bytes, decompressing gzip (recognised by its magic number)."""
    path = Path(path)
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise SourceError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    reader = io.BufferedReader(raw, _CHUNK)
    if reader.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(_Gunzip(reader), _CHUNK)
    return reader


def _head(path: str | Path) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with open_binary(path) as fh:
        while size < _SNIFF_BYTES:
            try:
                chunk = fh.read1(_SNIFF_BYTES - size)
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
        found = _detect_json_lines(head) or _detect_scholarly_json(head)
        if found:
            return found
        if b'"data"' in head and b'"status"' in head:
            return "hf-daily"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[1:2] == b"\x00":
        raise SourceError(f"{path}: the file is UTF-16; save it as UTF-8 and import it again")
    raise SourceError(
        f"{path}: cannot tell which format this is; use --format with one of: {known_formats()}"
    )


def _detect_json_lines(head: bytes) -> str | None:
    """The format of the first JSON-object line that tells; a first line longer than the sniffed
    head is judged by the key names in it (its start is enough)."""
    lines = head.split(b"\n")
    complete = lines if len(head) < _SNIFF_BYTES else lines[:-1]  # the head may end mid-line
    for line in complete[:5]:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a pretty-printed document (the HF wrapper), or a bad line
        if isinstance(obj, dict):
            found = _detect_keys(set(obj), isinstance(obj.get("paper"), dict))
            if found:
                return found
    if len(lines) == 1 and len(head) >= _SNIFF_BYTES:
        keys = {m.group(1).decode(): bool(m.group(2)) for m in _KEY.finditer(head)}
        return _detect_keys(set(keys), keys.get("paper", False))
    return None


def _detect_scholarly_json(head: bytes) -> str | None:
    """Saved single-document API responses, told apart by their top-level keys."""
    start = head[:4096]
    if b'"message-type"' in start:
        return "crossref"
    if b'"messages"' in start and b'"collection"' in head:
        return "biorxiv-details"
    if b'"notes"' in start:
        return "openreview"
    if b"openalex.org/W" in head and (b'"results"' in head or b'"id"' in start):
        return "openalex"
    return None


def _detect_xml(path: str | Path, head: bytes) -> str:
    if b"<OAI-PMH" in head:
        return "arxiv-oai"
    if b"<collection" in head and b"<volume" in head:
        return "acl-anthology"
    if b"<PubmedArticleSet" in head:
        return "pubmed"
    arxiv = b"arxiv.org" in head or b"announce_type" in head
    if b"rss.arxiv.org" in head or b"announce_type" in head or (b"<rss" in head and arxiv):
        return "arxiv-rss"
    if b"<feed" in head and arxiv:
        return "arxiv-api"
    if b"biorxiv.org" in head or b"medrxiv.org" in head:
        return "biorxiv-feed"
    if b"<rss" in head or b"<feed" in head or b"RDF" in head[:2048]:
        return "journal-feed"
    raise SourceError(f"{path}: unknown XML document; use --format with one of: {known_formats()}")


def _detect_keys(keys: set[str], paper_object: bool) -> str | None:
    if "_archive_date" in keys or paper_object:
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
    elif fmt in _DOCUMENTS:
        yield from _DOCUMENTS[fmt](_document(path))
    else:
        yield from _read_xml(path, fmt)


def _lines(path: str | Path, fmt: str, convert, objects_only: bool = True) -> Iterator[Item]:
    with open_binary(path) as fh, _read_errors(path):
        lines = jsonl.bounded_lines(fh, jsonl.MAX_LINE_BYTES)
        yield from jsonl.read_json_lines(lines, convert, fmt, objects_only=objects_only)


@contextlib.contextmanager
def _read_errors(path: str | Path) -> Iterator[None]:
    """A cut or corrupt gzip, or a failing disk, as a SourceError naming the file."""
    try:
        yield
    except (EOFError, zlib.error) as exc:
        raise SourceError(
            f"{path}: truncated or corrupt compressed file ({exc}); the records before the cut "
            "were read"
        ) from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _read_hf(path: str | Path) -> Iterator[Item]:
    head = _head(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") and (_is_json_lines(head) or b"\n" not in head):
        yield from _lines(path, "hf-daily", hf_daily.record_from_entry, objects_only=False)
        return
    with open_binary(path) as fh, _read_errors(path):
        content = fh.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise SourceError(
            f"{path}: a single JSON document over {MAX_DOCUMENT_BYTES >> 20} MB; "
            "split it into JSON lines (one entry per line)"
        )
    day = hf_daily.date_from_name(Path(path).name)
    yield from hf_daily.parse_daily_response(content, day=day, observed=hf_daily.midnight(day))


def _is_json_lines(head: bytes) -> bool:
    try:
        json.loads(head.split(b"\n", 1)[0])
    except (ValueError, RecursionError):
        return False
    return True


_XML_STREAMS = {
    "arxiv-oai": lambda fh: arxiv_oai.stream_oai(fh, arxiv_oai.OaiPage()),
    "arxiv-api": lambda fh: arxiv_api.stream_api(fh, arxiv_api.ApiPage()),
    "arxiv-rss": lambda fh: arxiv_rss.stream_feed(fh, arxiv_rss.FeedPage()),
    "acl-anthology": acl_anthology.stream_collection,
    "pubmed": pubmed.stream_articles,
    "journal-feed": lambda fh: feeds.stream_feed(fh, feeds.FeedInfo()),
    "biorxiv-feed": biorxiv.stream_feed_items,
}
# Single JSON documents (API responses), read whole: at most MAX_DOCUMENT_BYTES.
_DOCUMENTS = {
    "crossref": lambda content: crossref.parse_works(content).items,
    "openalex": lambda content: openalex.parse_works(content).items,
    "biorxiv-details": lambda content: biorxiv.parse_details(content).items,
    "openreview": lambda content: openreview.parse_notes(content).items,
}


def _document(path: str | Path) -> bytes:
    with open_binary(path) as fh, _read_errors(path):
        content = fh.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise SourceError(f"{path}: a single JSON document over {MAX_DOCUMENT_BYTES >> 20} MB")
    return content


def _read_xml(path: str | Path, fmt: str) -> Iterator[Item]:
    with open_binary(path) as fh, _read_errors(path):
        yield from _XML_STREAMS[fmt](fh)
