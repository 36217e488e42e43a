"""Helpers the non-arXiv sources share: identifiers and record keys, DOIs, markup to text,
MathML to LaTeX, JSON documents, and the one way such a record is finished and checked.

Crossref, OpenAlex, PubMed, bioRxiv, OpenReview, ACL Anthology, journal feeds and the enrichment
sources all build their records through `finish_record`, so each applies the same rules: `id` is
the arXiv id when the source knows one, else `record_key(identifiers)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from paperroute.models import InvalidPaperId, PaperRecord, record_key, split_arxiv_id
from paperroute.sources.base import Item, RecordError, SourceError
from paperroute.sources.common import checked, one_line

MAX_JSON_BYTES = 20 * 1024 * 1024  # a Crossref page of 1,000 works is ~15 MB
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_MATHML = "http://www.w3.org/1998/Math/MathML"
_TAG_ONLY = re.compile(r"<[^>]+>")
_PREFIXES = (
    'xmlns:jats="http://www.ncbi.nlm.nih.gov/JATS1" xmlns:mml="http://www.w3.org/1998/Math/MathML" '
    'xmlns:xlink="http://www.w3.org/1999/xlink"'
)


def normalise_doi(value: Any) -> str | None:
    """A DOI in its bare lower-case form ("10.18653/v1/2024.acl-long.1"), or None."""
    if not isinstance(value, str):
        return None
    text = _DOI_PREFIX.sub("", value.strip())
    match = _DOI.match(text)
    return match.group(0).rstrip(".").lower() if match else None


def arxiv_from(value: Any) -> str | None:
    """The canonical arXiv id in an id, URL or `arXiv:` string, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return split_arxiv_id(value)[0]
    except InvalidPaperId:
        return None


def arxiv_from_doi(doi: str | None) -> str | None:
    """arXiv's own DOIs (10.48550/arxiv.2401.01234) name the arXiv id."""
    if doi and doi.startswith("10.48550/arxiv."):
        return arxiv_from(doi.removeprefix("10.48550/arxiv."))
    return None


def identifiers_of(**schemes: str | None) -> dict[str, str]:
    """The non-empty identifiers given, an arXiv id also found from an arXiv DOI."""
    found = {k: v.strip() for k, v in schemes.items() if isinstance(v, str) and v.strip()}
    if "arxiv" not in found and (arxiv := arxiv_from_doi(found.get("doi"))):
        found["arxiv"] = arxiv
    return found


def finish_record(record: PaperRecord, number: int | None, label: str | None = None) -> Item:
    """Give the record its id (arXiv id, else the best identifier's key) and check its limits."""
    ids = record.identifiers
    if ids.get("arxiv"):
        record.id = ids["arxiv"]
    else:
        try:
            record.id = record_key(ids)
        except ValueError:
            return RecordError(record.source, "no identifier (DOI, id ...)", number, label)
    if not record.doi and ids.get("doi"):
        record.doi = ids["doi"]
    if not record.title:
        return RecordError(record.source, "missing title", number, label or record.id)
    return checked(record, number, label or record.id)


def markup_text(value: Any) -> str | None:
    """Plain text of a JATS/HTML/MathML fragment (Crossref abstracts, feed titles); MathML
    becomes LaTeX between $...$. Whitespace collapsed; None when empty."""
    if not isinstance(value, str):
        return None
    if "<" not in value:
        return one_line(value)
    try:  # Crossref writes jats:/mml: prefixes without declaring them
        root = etree.fromstring(f"<x {_PREFIXES}>{value}</x>", _FRAGMENT_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        root = None
    if root is None:  # not well-formed (HTML entities, stray <): drop the tags only
        return one_line(_TAG_ONLY.sub(" ", value))
    return element_text(root)


_FRAGMENT_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False
)


def element_text(elem: etree._Element) -> str | None:
    """Text of an element with MathML turned into $LaTeX$, whitespace collapsed."""
    parts: list[str] = []
    _collect(elem, parts)
    return one_line("".join(parts))


def _collect(elem: etree._Element, parts: list[str]) -> None:
    if _local(elem) == "math":
        parts.append(f"${mathml_latex(elem)}$")
    elif _local(elem) == "tex-math":  # ACL Anthology keeps LaTeX as written
        parts.append(f"${''.join(elem.itertext()).strip()}$")
    else:
        if isinstance(elem.tag, str):
            parts.append(elem.text or "")
            for child in elem:
                _collect(child, parts)
                parts.append(child.tail or "")
            if _local(elem) in {"p", "sec", "title", "br"}:  # JATS paragraphs: keep them apart
                parts.append(" ")


def _local(elem: etree._Element) -> str:
    tag = elem.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


# MathML -> LaTeX by hand: no maintained library does this, and PubMed's MathML is the small
# presentation subset below; anything else falls back to its text.
_TEMPLATES = {
    "msup": "{}^{{{}}}",
    "msub": "{}_{{{}}}",
    "mfrac": "\\frac{{{}}}{{{}}}",
    "msqrt": "\\sqrt{{{}}}",
    "mroot": "\\sqrt[{1}]{{{0}}}",
    "msubsup": "{}_{{{}}}^{{{}}}",
    "mover": "\\overset{{{1}}}{{{0}}}",
    "munder": "\\underset{{{1}}}{{{0}}}",
}


def mathml_latex(elem: etree._Element) -> str:
    """LaTeX for a MathML element: its TeX annotation when it has one, else converted."""
    for note in elem.iter(f"{{{_MATHML}}}annotation", "annotation"):
        if "tex" in (note.get("encoding") or "").lower() and note.text:
            return note.text.strip()
    return _latex(elem).strip()


def _latex(elem: etree._Element) -> str:
    name = _local(elem)
    children = [c for c in elem if isinstance(c.tag, str)]
    if name in {"mi", "mn", "mo", "mtext", "ms"}:
        return " ".join((elem.text or "").split())
    if name == "annotation" or name == "annotation-xml":
        return ""
    if name in _TEMPLATES and children:
        args = [_latex(c) for c in children]
        template = _TEMPLATES[name]
        try:
            return template.format(*args)
        except IndexError:  # fewer children than the element needs: keep what there is
            return "".join(args)
    return "".join(_latex(c) for c in children) or " ".join((elem.text or "").split())


def load_json(content: bytes, source: str) -> Any:
    """A JSON document, or a SourceError naming the source and showing the start of the body."""
    if len(content) > MAX_JSON_BYTES:
        raise SourceError(f"{source}: response over {MAX_JSON_BYTES >> 20} MB")
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        head = " ".join(content[:120].decode("utf-8", "replace").split())
        raise SourceError(f"{source}: response is not JSON: {head!r}") from None


def text_of(value: Any) -> str | None:
    """A string value (or the first of a list of strings) with whitespace collapsed."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    return one_line(value) if isinstance(value, str) else None


def int_of(value: Any) -> int | None:
    """A whole number, or None for anything else (booleans included)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def mapping(value: Any) -> Mapping[str, Any]:
    """The value when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def listing(value: Any) -> list[Any]:
    """The value when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def safe_record(build, obj: Any, number: int, source: str, label: str | None = None) -> Item:
    """`build(obj, number)`, with an unexpected shape (a wrong type deep inside) turned into a
    RecordError naming the record instead of a traceback."""
    try:
        return build(obj, number)
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        return RecordError(source, f"unreadable record: {type(exc).__name__}: {exc}", number, label)
