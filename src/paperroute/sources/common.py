"""Small helpers every source parser shares: dates, categories, author strings, arXiv links, XML.

Kept here so each parser applies the same rules (one piece of code serves every caller).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import IO

from lxml import etree

from paperroute.models import InvalidPaperId, PaperRecord, split_arxiv_id
from paperroute.sources.base import Item, RecordError, SourceError

# Limits every imported record must meet (README "Importing"): a record over one is rejected by
# number and id, never truncated, so no stored paper silently differs from its source.
MAX_TITLE_CHARS = 1_000  # arXiv titles are under 300
MAX_ABSTRACT_CHARS = 20_000  # arXiv allows 1,920
MAX_TEXT_CHARS = 10_000  # any other text field (comments, names, URLs, ...)
MAX_LIST_ITEMS = 10_000  # authors, categories, keywords, versions (ATLAS papers: ~3,000 authors)
MAX_COUNT = 1_000_000_000  # upvotes and GitHub stars
MAX_VERSION = 100_000

# arXiv archive/category names: cs, cs.CV, math-ph, cond-mat.str-el, astro-ph.GA, q-bio.NC.
# Listing pages also carry ACM/MSC codes ("I.2.7", "68T50") that are not arXiv categories.
_CATEGORY = re.compile(r"[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?")
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_PAREN = re.compile(r"\(([^()]*)\)")
_SPACES = re.compile(r"\s+")
_RFC2822_GMT = re.compile(
    r"(?:[A-Z][a-z]{2},\s*)?(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) "
    r"(\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|\+0000)"
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}


def arxiv_categories(values: list[str] | str | None) -> list[str]:
    """arXiv category codes in order (space-separated string or list), other codes dropped."""
    if not values:
        return []
    items = values.split() if isinstance(values, str) else values
    return list(dict.fromkeys(c.strip() for c in items if c and _CATEGORY.fullmatch(c.strip())))


def abs_url(paper_id: str) -> str:
    """The arXiv abstract page of a canonical id."""
    return f"https://arxiv.org/abs/{paper_id}"


def pdf_url(paper_id: str) -> str:
    """The arXiv PDF of a canonical id."""
    return f"https://arxiv.org/pdf/{paper_id}"


def parse_datetime(value: str | None) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (Z allowed), RFC 2822 or a bare date; None if empty."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    fast = _RFC2822_GMT.fullmatch(text)  # arXiv's "Mon, 2 Apr 2007 19:18:42 GMT", millions of times
    if fast:
        day, month, year, hour, minute, second = fast.groups()
        month_number = _MONTHS.get(month)
        if month_number:
            return datetime(
                int(year), month_number, int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"not a date: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-05:00 is past the last representable moment
        raise ValueError(f"date out of range: {value!r}") from None


def feed_datetime(value: str | None) -> datetime | None:
    """`parse_datetime` for a feed's own timestamp: unreadable means unknown, not an error."""
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def parse_date(value: str | None) -> date | None:
    """The calendar date of `parse_datetime` (as written, before any time zone shift)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"not a date: {value!r}") from None


def clean_text(value: str | None) -> str | None:
    """Strip surrounding whitespace; empty becomes None."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def one_line(value: str | None) -> str | None:
    """Collapse runs of whitespace (titles, names); empty becomes None."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def split_author_string(text: str | None) -> list[tuple[str, list[str]]]:
    """Split 'A. One (MIT), B. Two and C. Three' into [(name, [affiliations]), ...]."""
    if not text:
        return []
    out = []
    for part in _AUTHOR_SPLIT.split(_SPACES.sub(" ", text).strip()):
        affiliations = [a.strip() for a in _PAREN.findall(part) if a.strip()]
        name = one_line(_PAREN.sub("", part))
        if name:
            out.append((name, affiliations))
    return out


def arxiv_id_or_error(
    raw: str | None, source: str, record: int | None
) -> tuple[str, int | None] | RecordError:
    """(canonical id, version) for an id/URL, or the RecordError a user should see."""
    if not raw or not raw.strip():
        return RecordError(source=source, record=record, reason="missing id")
    try:
        return split_arxiv_id(raw)
    except InvalidPaperId:
        return RecordError(
            source=source, record=record, record_id=raw.strip(), reason=f"not an arXiv id: {raw!r}"
        )


def xml_text(element: etree._Element | None, path: str, ns: dict[str, str]) -> str | None:
    """Stripped text of the first match of `path`, or None."""
    if element is None:
        return None
    found = element.find(path, ns)
    if found is None:
        return None
    return clean_text("".join(found.itertext()))


def _text_problem(name: str, value: object, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return f"{name} is not text: {type(value).__name__}"
    if len(value) > limit:
        return f"{name} is {len(value):,} characters, over the {limit:,} limit"
    return None


def _count_problem(name: str, value: object, low: int, high: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} is not a whole number: {type(value).__name__}"
    if not low <= value <= high:
        return f"{name} {value if abs(value) < 10**15 else 'value'} is out of range {low}..{high:,}"
    return None


_SHORT_TEXTS = operator.attrgetter(
    "primary_category", "comments", "journal_ref", "doi", "license", "abs_url", "pdf_url",
    "code_url", "project_url", "submitter", "announce_type",
)  # fmt: skip


def record_problem(rec: PaperRecord) -> str | None:
    """Why a record breaks the import limits or field types (None when it is fine)."""
    if _plainly_fine(rec):
        return None
    return _first_problem(rec)


def _plainly_fine(rec: PaperRecord) -> bool:
    """True when the record clearly meets every limit of `_first_problem`: nearly every record,
    in a few C-level calls instead of thirty Python ones (the checks were 15% of import time).
    False says only "look closer"."""
    if rec.versions:
        return False
    for text, limit in ((rec.title, MAX_TITLE_CHARS), (rec.abstract, MAX_ABSTRACT_CHARS)):
        if text is not None and (text.__class__ is not str or len(text) > limit):
            return False
    for count, low, high in ((rec.version, 1, MAX_VERSION), (rec.github_stars, 0, MAX_COUNT),
                             (rec.upvotes, 0, MAX_COUNT)):  # fmt: skip
        if count is not None and (count.__class__ is not int or not low <= count <= high):
            return False
    lists = (rec.authors, rec.categories, rec.keywords)
    if max(map(len, lists)) > MAX_LIST_ITEMS:
        return False
    texts = [t for t in _SHORT_TEXTS(rec) if t is not None]
    texts += rec.categories
    texts += rec.keywords
    for a in rec.authors:
        texts.append(a.name)
        texts += a.affiliations
    if any(t.__class__ is not str for t in texts):
        return False
    return max(map(len, texts), default=0) <= MAX_TEXT_CHARS


def _first_problem(rec: PaperRecord) -> str | None:
    checks = [
        _text_problem("title", rec.title, MAX_TITLE_CHARS),
        _text_problem("abstract", rec.abstract, MAX_ABSTRACT_CHARS),
        _count_problem("version", rec.version, 1, MAX_VERSION),
        _count_problem("github_stars", rec.github_stars, 0, MAX_COUNT),
        _count_problem("upvotes", rec.upvotes, 0, MAX_COUNT),
    ]
    for name in ("primary_category", "comments", "journal_ref", "doi", "license", "abs_url",
                 "pdf_url", "code_url", "project_url", "submitter", "announce_type"):  # fmt: skip
        checks.append(_text_problem(name, getattr(rec, name), MAX_TEXT_CHARS))
    for name in ("authors", "categories", "keywords", "versions"):
        if len(getattr(rec, name)) > MAX_LIST_ITEMS:
            checks.append(f"{name}: {len(getattr(rec, name)):,} entries, over {MAX_LIST_ITEMS:,}")
    checks += [_text_problem("category", c, MAX_TEXT_CHARS) for c in rec.categories]
    checks += [_text_problem("keyword", k, MAX_TEXT_CHARS) for k in rec.keywords]
    for a in rec.authors:
        checks.append(_text_problem("author name", a.name, MAX_TEXT_CHARS))
        checks += [_text_problem("affiliation", x, MAX_TEXT_CHARS) for x in a.affiliations]
    for v in rec.versions:
        checks += [
            _count_problem("version", v.version, 1, MAX_VERSION),
            _text_problem("version title", v.title, MAX_TITLE_CHARS),
            _text_problem("version abstract", v.abstract, MAX_ABSTRACT_CHARS),
            _text_problem("version size", v.size, MAX_TEXT_CHARS),
        ]
    return next((c for c in checks if c), None)


def checked(item: Item, number: int | None, record_id: str | None = None) -> Item:
    """The record itself, or the RecordError naming it when it breaks `record_problem`."""
    if not isinstance(item, PaperRecord):
        return item
    problem = record_problem(item)
    if problem is None:
        return item
    return RecordError(item.source, problem, number, record_id or item.id)


# Bounds for one record of a streamed XML file, so that a gzip bomb cannot grow memory.
MAX_RECORD_ELEMENTS = 100_000
MAX_RECORD_CHARS = 20_000_000


class XmlStream:
    """Incremental parse of an XML file (lxml's pull parser): elements are freed once handled.

    `root()` is the document element; `children(depth, record_tag)` yields each element from depth
    1 down to `depth` (the root is 0) when it ends, then removes it from the tree. Entities are
    never resolved and nothing is fetched; libxml2's default limits (10 MB text nodes, depth 256)
    stay on. `head` is the document's start, for messages about documents that are not what they
    should be.
    """

    def __init__(self, fh: IO[bytes], source: str, first_record: int = 1) -> None:
        self.source = source
        self.record = first_record - 1  # records seen so far, for messages
        self.head = ""
        # read1: the bytes before a cut gzip are handed over before its EOFError, not dropped
        self._read = getattr(fh, "read1", fh.read)
        self._parser = etree.XMLPullParser(
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            remove_comments=True,
            remove_pis=True,
        )
        self._pending: Iterator[tuple[str, etree._Element]] = iter(())
        self._root: etree._Element | None = None
        self._done = False
        self._started = False
        self._error: etree.XMLSyntaxError | None = None

    def _next(self) -> tuple[str, etree._Element] | None:
        while True:
            found = next(self._pending, None)
            if found is not None:
                return found
            if self._error is not None:  # raised once the events before it are handled
                self._syntax_error(self._error)
            if self._done:
                return None
            chunk = self._read(1 << 16)
            if not self._started:  # blank lines before <?xml (Atypon feeds): libxml2 refuses them
                stripped = chunk.lstrip(b" \t\r\n")
                if chunk and not stripped:
                    continue
                chunk, self._started = stripped, True
            if not self.head:
                self.head = " ".join(chunk[:120].decode("utf-8", "replace").split())
            try:
                if chunk:
                    self._parser.feed(chunk)
                else:
                    self._done = True
                    self._parser.close()
            except etree.XMLSyntaxError as exc:
                self._error, self._done = exc, True
            self._pending = self._parser.read_events()

    def _syntax_error(self, exc: etree.XMLSyntaxError) -> None:
        if self._root is None:
            raise SourceError(
                f"{self.source}: response is not valid XML ({exc.msg}): {self.head!r}"
            ) from None
        line = f" (line {exc.lineno})" if exc.lineno else ""
        raise SourceError(
            f"{self.source}: record {self.record + 1}: invalid XML{line}: {exc.msg}"
        ) from None

    def root(self) -> etree._Element:
        """The document element (read up to its start tag)."""
        if self._root is None:
            found = self._next()
            if found is None:
                raise SourceError(f"{self.source}: response is not valid XML: {self.head!r}")
            self._root = found[1]
        return self._root

    def children(self, depth: int, record_tag: str) -> Iterator[etree._Element]:
        """Each element down to `depth` as it ends, freed after the caller has handled it.

        A record over MAX_RECORD_ELEMENTS elements or MAX_RECORD_CHARS characters ends the
        read with a SourceError naming it: skipping it would still cost a Python step per
        element, which for a gzip bomb of empty elements means an hour, not a second.
        """
        self.root()
        level = count = chars = 0  # depth of the innermost open element; size of this record
        while (found := self._next()) is not None:
            event, elem = found
            if event == "start":
                level += 1
                if level == depth:
                    count = chars = 0
                continue
            level -= 1
            if level + 1 > depth:  # inside a record: kept for the caller, within bounds
                count += 1
                chars += len(elem.text or "") + len(elem.tail or "")
                if count > MAX_RECORD_ELEMENTS or chars > MAX_RECORD_CHARS:
                    raise SourceError(
                        f"{self.source}: record {self.record + 1}: too large (over "
                        f"{MAX_RECORD_ELEMENTS:,} elements or {MAX_RECORD_CHARS:,} characters); "
                        "the records before it were read, the rest of the file was not"
                    )
                continue
            if level < 0:
                return  # the root ended
            if elem.tag == record_tag:
                self.record += 1
            yield elem
            _free(elem)


def _free(elem: etree._Element) -> None:
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        parent.remove(elem)
