"""Small helpers every source parser shares: dates, categories, author strings, arXiv links, XML.

Kept here so each parser applies the same rules (one piece of code serves every caller).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from lxml import etree

from paperroute.models import InvalidPaperId, split_arxiv_id
from paperroute.sources.base import RecordError, SourceError

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
    return parsed.astimezone(UTC)


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


def parse_xml(content: bytes, source: str) -> etree._Element:
    """Parse an XML response, or raise SourceError saying it was not XML."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        return etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        start = " ".join(content[:120].decode("utf-8", "replace").split())
        raise SourceError(f"{source}: response is not valid XML ({exc}): {start!r}") from None


def xml_text(element: etree._Element | None, path: str, ns: dict[str, str]) -> str | None:
    """Stripped text of the first match of `path`, or None."""
    if element is None:
        return None
    found = element.find(path, ns)
    if found is None:
        return None
    return clean_text("".join(found.itertext()))
