"""Parse BibTeX, RIS and CSL-JSON library files into plain entries, one error per bad entry.

Every parser returns `Parsed(entries, errors)`: the good entries are kept even when others are
malformed, and each error names the line the bad entry starts on and what is wrong with it.
"""

from __future__ import annotations

import codecs
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


_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _encoding(data: bytes) -> tuple[str, int]:
    """(encoding, length of its byte-order mark) from a BOM, or from the NULs of BOM-less UTF-16."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    sample = data[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 > len(sample):  # ASCII as UTF-16: every 2nd a NUL
        even_nuls = sample[0::2].count(0)
        return ("utf-16-be" if even_nuls > sample[1::2].count(0) else "utf-16-le"), 0
    return "utf-8", 0


def decode(data: bytes) -> str:
    """File bytes as text (UTF-8, UTF-16/32 by BOM, else Latin-1); refuses files over 50 MB."""
    if len(data) > MAX_BYTES:
        raise LibraryFileError(
            f"library file: {len(data) / 1e6:.0f} MB is over the 50 MB limit; "
            "export a smaller collection or split the file"
        )
    encoding, skip = _encoding(data)
    try:
        return data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding != "utf-8":
            raise LibraryFileError(
                f"library file: not valid {encoding.upper()} text (byte {exc.start + skip})"
            ) from None
    return data.decode("latin-1")  # Latin-1 decodes any bytes: old BibTeX files use it


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


_CSL_NEXT_ITEM = re.compile(r"\}\s*,\s*(?=\{)")


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
        except (json.JSONDecodeError, RecursionError) as exc:
            if isinstance(exc, RecursionError):
                parsed.errors.append(EntryError(line, "invalid JSON: nested too deeply"))
            else:
                parsed.errors.append(EntryError(exc.lineno, f"invalid JSON: {exc.msg}"))
            nxt = _CSL_NEXT_ITEM.search(text, getattr(exc, "pos", pos))
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


class _BadField(ValueError):
    """A CSL-JSON field of the wrong type; the message names the field."""


def _csl_text(item: dict, key: str, numbers: bool = False) -> str | None:
    """A text field (a number too where CSL allows one, e.g. `id`, `number`)."""
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _BadField(f"field {key!r} must be text, not {_json_type(value)}")


def _json_type(value) -> str:
    names = {dict: "an object", list: "a list", bool: "true/false", int: "a number"}
    return names.get(type(value), "a number" if isinstance(value, float) else type(value).__name__)


def _csl_authors(item: dict) -> list[str]:
    people = item.get("author")
    if people is None:
        return []
    if not isinstance(people, list):
        raise _BadField(f"field 'author' must be a list of names, not {_json_type(people)}")
    authors = []
    for n, person in enumerate(people, 1):
        if not isinstance(person, dict):
            raise _BadField(f"author {n} must be an object, not {_json_type(person)}")
        parts = [_csl_text(person, k) for k in ("literal", "given", "family")]
        name = parts[0] or " ".join(p for p in parts[1:] if p)
        if name:
            authors.append(name)
    return authors


def _csl_year(item: dict) -> str | None:
    issued = item.get("issued")
    if issued is None:
        return None
    if not isinstance(issued, dict):
        raise _BadField(f"field 'issued' must be an object, not {_json_type(issued)}")
    parts = issued.get("date-parts")
    if parts is None or parts == [] or parts == [[]]:
        return _csl_text(issued, "raw", numbers=True)
    if not isinstance(parts, list) or not isinstance(parts[0], list):
        raise _BadField("field 'issued.date-parts' must be a list of [year, month, day] lists")
    year = parts[0][0] if parts[0] else None
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, int | str) or len(str(year)) > 8:
        raise _BadField(f"field 'issued.date-parts' has a bad year: {str(year)[:20]!r}")
    return str(year)


def _csl_item(item, line: int, parsed: Parsed) -> None:
    if not isinstance(item, dict):
        parsed.errors.append(EntryError(line, f"item is a {type(item).__name__}, not an object"))
        return
    try:
        key = _csl_text(item, "id", numbers=True)
    except _BadField as exc:
        parsed.errors.append(EntryError(line, str(exc)))
        return
    try:
        entry = _csl_entry(item, line, key)
    except _BadField as exc:
        parsed.errors.append(EntryError(line, str(exc), key))
        return
    _usable(entry, parsed)


def _csl_entry(item: dict, line: int, key: str | None) -> Entry:
    url, doi = _csl_text(item, "URL"), _csl_text(item, "DOI")
    return Entry(
        line=line,
        key=key,
        title=_clean(_csl_text(item, "title")),
        authors=_csl_authors(item),
        year=_csl_year(item),
        doi=clean_doi(doi),
        arxiv_id=find_arxiv_id(
            _csl_text(item, "arxiv"),
            url,
            doi,
            _csl_text(item, "number", numbers=True),
            _csl_text(item, "note"),
            key,
        ),
        url=url,
        abstract=_clean(_csl_text(item, "abstract")),
    )
