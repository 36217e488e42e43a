"""Parse BibTeX, RIS and CSL-JSON library files into plain entries, one error per bad entry.

Every parser returns `Parsed(entries, errors)`: the good entries are kept even when others are
malformed, and each error names the line the bad entry starts on and what is wrong with it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from paperroute.models import InvalidPaperId, split_arxiv_id

FORMATS = ("bibtex", "ris", "csl-json")
MAX_BYTES = 50 * 1024 * 1024


class LibraryFileError(ValueError):
    """The file as a whole cannot be read (too large, unknown format, not text)."""


@dataclass
class Entry:
    """One reference, as far as the file told us."""

    line: int
    key: str | None = None
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    year: str | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    url: str | None = None
    abstract: str | None = None

    @property
    def label(self) -> str:
        """How messages refer to this entry."""
        return f"line {self.line}" + (f" ({self.key})" if self.key else "")


@dataclass
class EntryError:
    """A malformed entry that was skipped."""

    line: int
    reason: str
    key: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}" + (f" ({self.key})" if self.key else "") + f": {self.reason}"


@dataclass
class Parsed:
    """What a file held: usable entries and the errors of the rest."""

    format: str
    entries: list[Entry] = field(default_factory=list)
    errors: list[EntryError] = field(default_factory=list)


_DOI_ARXIV = re.compile(r"10\.48550/arxiv\.(?P<id>\S+)", re.IGNORECASE)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")


def find_arxiv_id(*texts: str | None) -> str | None:
    """The first arXiv id found in the given fields (eprint, URL, note, DOI ...), or None."""
    for text in texts:
        if not text:
            continue
        text = str(text).strip()
        m = _DOI_ARXIV.search(text)
        if m:
            text = m.group("id")
        try:
            return split_arxiv_id(text)[0]
        except InvalidPaperId:
            continue
    return None


def clean_doi(raw: str | None) -> str | None:
    """A bare DOI (no https://doi.org/ prefix), lower-cased, or None."""
    m = _DOI.search(raw or "")
    return m.group(1).rstrip(".,;").lower() if m else None


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    value = " ".join(str(text).replace("{", "").replace("}", "").split())
    return value or None


def detect_format(text: str, filename: str = "") -> str:
    """Guess the format from the file name, then from the content."""
    name = filename.lower()
    if name.endswith((".bib", ".bibtex")):
        return "bibtex"
    if name.endswith((".ris", ".txt")) and re.search(r"^TY  - ", text, re.MULTILINE):
        return "ris"
    if name.endswith(".json"):
        return "csl-json"
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return "csl-json"
    if re.search(r"^TY  - ", text, re.MULTILINE):
        return "ris"
    if re.search(r"^\s*@\w+\s*[{(]", text, re.MULTILINE):
        return "bibtex"
    raise LibraryFileError(
        "library file: not BibTeX, RIS or CSL-JSON (no @entry, no 'TY  -' line, no JSON list)"
    )


def decode(data: bytes) -> str:
    """File bytes as text; refuses files over 50 MB with a clear message."""
    if len(data) > MAX_BYTES:
        raise LibraryFileError(
            f"library file: {len(data) / 1e6:.0f} MB is over the 50 MB limit; "
            "export a smaller collection or split the file"
        )
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LibraryFileError("library file: not text")  # pragma: no cover - latin-1 decodes all


def parse_library(text: str, fmt: str | None = None, filename: str = "") -> Parsed:
    """Parse a library file in the given (or detected) format."""
    fmt = fmt or detect_format(text, filename)
    if fmt not in FORMATS:
        raise LibraryFileError(f"library file: unknown format {fmt!r} (use {', '.join(FORMATS)})")
    return {"bibtex": parse_bibtex, "ris": parse_ris, "csl-json": parse_csl_json}[fmt](text)


def _usable(entry: Entry, parsed: Parsed) -> None:
    if entry.title or entry.arxiv_id or entry.doi:
        parsed.entries.append(entry)
    else:
        parsed.errors.append(EntryError(entry.line, "no title, DOI or arXiv id", entry.key))


# --- BibTeX ---------------------------------------------------------------------------------


def parse_bibtex(text: str) -> Parsed:
    """BibTeX entries (bibtexparser v2); a syntax error loses only the entry it is in."""
    import bibtexparser

    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    library = bibtexparser.parse_string(text)
    parsed = Parsed("bibtex")
    for block in library.failed_blocks:
        parsed.errors.append(EntryError(block.start_line + 1, _bibtex_reason(block)))
    for e in library.entries:
        f = {k.lower(): v.value if hasattr(v, "value") else v for k, v in e.fields_dict.items()}
        entry = Entry(
            line=e.start_line + 1,
            key=e.key,
            title=_clean(f.get("title")),
            authors=[_clean(a) or "" for a in re.split(r"\s+and\s+", f.get("author") or "") if a],
            year=_clean(f.get("year")),
            doi=clean_doi(f.get("doi")),
            arxiv_id=_bibtex_arxiv(f),
            url=_clean(f.get("url")),
            abstract=_clean(f.get("abstract")),
        )
        _usable(entry, parsed)
    parsed.errors.sort(key=lambda err: err.line)
    return parsed


def _bibtex_reason(block) -> str:
    error = getattr(block, "error", None)
    message = str(error) if error is not None and str(error) else ""
    raw = (getattr(block, "raw", "") or "").strip()
    if "Duplicate" in type(block).__name__:
        return message or "duplicate entry key"
    if re.match(r"@\w+\s*\{[^,\n]*\n", raw):
        return "no comma after the entry key"
    if raw.count("{") != raw.count("}"):
        return "unbalanced braces: an entry or field is not closed"
    return message or "syntax error in entry"


def _bibtex_arxiv(f: dict) -> str | None:
    prefix = (f.get("archiveprefix") or f.get("eprinttype") or "").lower()
    eprint = f.get("eprint") if prefix in ("", "arxiv") else None
    return find_arxiv_id(
        eprint,
        f.get("arxivid"),
        f.get("arxiv"),
        f.get("url"),
        f.get("doi"),
        f.get("note"),
        f.get("journal"),
        f.get("howpublished"),
    )


# --- RIS ------------------------------------------------------------------------------------

_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -( |$)")


def parse_ris(text: str) -> Parsed:
    """RIS records (TY .. ER), each parsed by rispy; stray lines and open records are errors."""
    import rispy

    parsed = Parsed("ris")
    start, lines = None, []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\ufeff")
        tag = _RIS_TAG.match(line)
        if tag and tag.group(1) == "TY":
            if start is not None:
                parsed.errors.append(EntryError(start, "record has no 'ER  -' end line"))
            start, lines = number, [line]
        elif tag and tag.group(1) == "ER":
            if start is None:
                parsed.errors.append(EntryError(number, "'ER  -' without a 'TY  -' start"))
                continue
            lines.append("ER  - ")
            _ris_record(rispy, start, lines, parsed)
            start, lines = None, []
        elif start is not None:
            lines.append(line)
        elif line.strip():
            parsed.errors.append(EntryError(number, "line outside a record (no 'TY  -' before it)"))
    if start is not None:
        parsed.errors.append(EntryError(start, "record has no 'ER  -' end line"))
    parsed.errors.sort(key=lambda err: err.line)
    return parsed


def _ris_record(rispy, start: int, lines: list[str], parsed: Parsed) -> None:
    try:
        records = rispy.loads("\n".join(lines) + "\n", skip_unknown_tags=True)
    except Exception as exc:  # rispy raises plain IOError/ValueError on bad records
        parsed.errors.append(EntryError(start, f"unreadable record: {exc}"))
        return
    if not records:
        parsed.errors.append(EntryError(start, "empty record"))
        return
    r = records[0]
    urls = r.get("urls") or []
    entry = Entry(
        line=start,
        key=r.get("id"),
        title=_clean(r.get("title") or r.get("primary_title") or r.get("translated_title")),
        authors=list(r.get("authors") or r.get("first_authors") or []),
        year=_clean((r.get("year") or r.get("publication_year") or "").split("/")[0]),
        doi=clean_doi(r.get("doi")),
        arxiv_id=find_arxiv_id(
            *urls,
            r.get("doi"),
            r.get("notes_abstract"),
            r.get("note"),
            *(r.get("notes") or []),
            r.get("journal_name"),
            r.get("number"),
        ),
        url=urls[0] if urls else None,
        abstract=_clean(r.get("abstract")),
    )
    _usable(entry, parsed)


# --- CSL-JSON -------------------------------------------------------------------------------


def parse_csl_json(text: str) -> Parsed:
    """A CSL-JSON list of items; a syntax error skips to the next item."""
    parsed = Parsed("csl-json")
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if text.startswith("{", pos):  # a single item
        text, pos = f"[{text[pos:]}]", 0
    if not text.startswith("[", pos):
        parsed.errors.append(EntryError(_line(text, pos), "CSL-JSON must be a list of items"))
        return parsed
    pos = _skip(text, pos + 1)
    while pos < len(text) and text[pos] != "]":
        line = _line(text, pos)
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            parsed.errors.append(EntryError(exc.lineno, f"invalid JSON: {exc.msg}"))
            nxt = re.compile(r"\}\s*,\s*(?=\{)").search(text, exc.pos)
            if not nxt:
                break
            pos = nxt.end()
            continue
        _csl_item(item, line, parsed)
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
    return parsed


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n\ufeff":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _csl_item(item, line: int, parsed: Parsed) -> None:
    if not isinstance(item, dict):
        parsed.errors.append(EntryError(line, f"item is a {type(item).__name__}, not an object"))
        return
    authors = []
    for a in item.get("author") or []:
        if isinstance(a, dict):
            name = a.get("literal") or " ".join(p for p in (a.get("given"), a.get("family")) if p)
            if name:
                authors.append(name)
    issued = (item.get("issued") or {}) if isinstance(item.get("issued"), dict) else {}
    parts = issued.get("date-parts") or [[None]]
    year = str(parts[0][0]) if parts and parts[0] and parts[0][0] else None
    url = item.get("URL")
    entry = Entry(
        line=line,
        key=str(item["id"]) if item.get("id") is not None else None,
        title=_clean(item.get("title")) if isinstance(item.get("title"), str) else None,
        authors=authors,
        year=year,
        doi=clean_doi(item.get("DOI")),
        arxiv_id=find_arxiv_id(
            item.get("arxiv"),
            url,
            item.get("DOI"),
            item.get("number"),
            item.get("note"),
            str(item.get("id") or ""),
        ),
        url=url,
        abstract=_clean(item.get("abstract")) if isinstance(item.get("abstract"), str) else None,
    )
    _usable(entry, parsed)
