"""Merging source records into one paper row: pure functions, no SQL.

Rules, chosen so that re-importing changes nothing and import order matters as little as possible:
- versioned metadata (title, abstract, authors, categories, comments, journal-ref, DOI, licence)
  comes from the record with the highest arXiv version; a record of an older or unknown version only
  fills fields that are still empty;
- Hugging Face signals (upvotes, GitHub stars, links, AI summary, organisation) come from the
  newest observation;
- announced is the earliest announcement seen, published the earliest, updated the latest;
- versions are the union of every version seen.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from typing import Any

from paperroute.models import Author, PaperRecord, Version, web_url

VERSIONED_FIELDS = (
    "title",
    "abstract",
    "primary_category",
    "comments",
    "journal_ref",
    "doi",
    "license",
    "abs_url",
    "pdf_url",
    "submitter",
)
SIGNAL_FIELDS = ("github_stars", "code_url", "project_url", "ai_summary", "organization")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")


def _no_nul(text: str) -> str:
    # PostgreSQL refuses NUL in text, and the web layer uses NUL for its page markers.
    return text.replace("\x00", "") if isinstance(text, str) and "\x00" in text else text


def _has_nul(texts) -> bool:
    return any(isinstance(t, str) and "\x00" in t for t in texts)


_TEXT_FIELDS = [f.name for f in fields(PaperRecord) if f.type in ("str", "str | None")]
_texts_of = operator.attrgetter(*_TEXT_FIELDS)


_URL_FIELDS = ("abs_url", "pdf_url", "code_url", "project_url")


def _record_has_nul(record: PaperRecord) -> bool:
    # This runs for every imported record and a record almost never has a NUL, so the common
    # case is one join and one `in` (3 us a record; testing each text alone took 15 us).
    texts = [t for t in _texts_of(record) if t]
    texts += record.categories
    texts += record.keywords
    for a in record.authors:
        texts.append(a.name)
        texts += a.affiliations
    for v in record.versions:
        texts += (v.title or "", v.abstract or "", v.size or "")
    try:
        return "\x00" in "".join(texts)
    except TypeError:  # a value that is not text: look at the texts one by one
        return _has_nul(texts)


def scrub_record(record: PaperRecord) -> PaperRecord:
    """The record with NUL removed from every text it carries and its links kept only when they
    are http(s) URLs (the record itself when clean).

    Stored text must never hold NUL: PostgreSQL refuses it, and the web layer's page markers
    are NUL-delimited (web/personal.py), so no field (URLs and author names included) may
    carry one into a page.
    """
    record = _without_nul(record)
    links = {n: None for n in _URL_FIELDS if (v := getattr(record, n)) and not web_url(v)}
    # A `javascript:`, `data:` or other non-web link from a source is dropped, not stored.
    return replace(record, **links) if links else record


def _without_nul(record: PaperRecord) -> PaperRecord:
    if not _record_has_nul(record):
        return record
    texts = {name: _no_nul(v) for name in _TEXT_FIELDS if (v := getattr(record, name))}
    return replace(
        record,
        **texts,
        authors=[
            Author(_no_nul(a.name), [_no_nul(x) for x in a.affiliations]) for a in record.authors
        ],
        categories=[_no_nul(c) for c in record.categories],
        keywords=[_no_nul(k) for k in record.keywords],
        versions=[
            replace(
                v,
                title=v.title and _no_nul(v.title),
                abstract=v.abstract and _no_nul(v.abstract),
                size=v.size and _no_nul(v.size),
            )
            for v in record.versions
        ],
    )


def clean_title(text: str | None) -> str | None:
    """Collapse arXiv's hard line breaks and runs of spaces in a title."""
    if text is None:
        return None
    cleaned = " ".join(_no_nul(text).split())
    return cleaned or None


def clean_abstract(text: str | None) -> str | None:
    """Join hard-wrapped abstract lines, keeping paragraph breaks."""
    if text is None:
        return None
    text = _no_nul(text)
    # str.split() is several times faster than a regex here, and this runs for every record.
    paragraphs = _PARAGRAPH.split(text) if "\n" in text else (text,)
    joined = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    return joined.strip() or None


def content_hash(title: str, abstract: str) -> str:
    """Hash of the text that embeddings are computed from."""
    return hashlib.sha256(f"{title}\n{abstract}".encode()).hexdigest()[:32]


def _plain(value: Any) -> Any:
    # Hand-rolled instead of dataclasses.asdict: asdict deep-copies and was 60% of import time.
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Author):
        return {"name": value.name, "affiliations": list(value.affiliations)}
    if isinstance(value, Version):
        out = {"version": value.version}
        for key in ("submitted", "title", "abstract", "size"):
            item = getattr(value, key)
            if item is not None:
                out[key] = _plain(item)
        return out
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_RECORD_FIELDS = [f.name for f in fields(PaperRecord) if f.name not in ("observed_at", "source")]


def record_fields(record: PaperRecord) -> dict[str, Any]:
    """The non-empty fields a record asserts (provenance), JSON-ready, observed_at excluded.

    The abstract is kept as a hash: its text lives in papers/paper_versions, and storing it again
    per source doubled the bytes written on import.
    """
    out = {}
    for name in _RECORD_FIELDS:
        value = getattr(record, name)
        if value not in (None, [], ""):
            out[name] = _plain(value)
    if "abstract" in out:
        out["abstract"] = "sha256:" + hashlib.sha256(out["abstract"].encode()).hexdigest()[:32]
    return out


def canonical_json(asserted: dict[str, Any]) -> str:
    """The JSON text stored as provenance and hashed to recognise a record."""
    return json.dumps(asserted, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fields_hash(source: str, payload: str) -> str:
    """Stable hash of what a record says, so the same record imported twice is recognised."""
    return hashlib.sha256(f"{source}|{payload}".encode()).hexdigest()[:32]


def record_hash(record: PaperRecord) -> str:
    """Hash of a record's asserted fields (see fields_hash)."""
    return fields_hash(record.source, canonical_json(record_fields(record)))


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _authors_json(authors: list[Author]) -> list[dict]:
    return [{"name": a.name, "affiliations": list(a.affiliations)} for a in authors]


def _categories(record: PaperRecord) -> list[str]:
    cats = list(dict.fromkeys(c for c in record.categories if c))
    if record.primary_category:
        cats = [record.primary_category] + [c for c in cats if c != record.primary_category]
    return cats


def new_row(paper_id: str, now: datetime) -> dict[str, Any]:
    """An empty paper row to merge the first record into."""
    return {
        "id": paper_id,
        "title": "",
        "abstract": "",
        "authors": [],
        "primary_category": None,
        "categories": [],
        "published": None,
        "updated": None,
        "announced": None,
        "latest_version": None,
        "comments": None,
        "journal_ref": None,
        "doi": None,
        "license": None,
        "abs_url": None,
        "pdf_url": None,
        "code_url": None,
        "project_url": None,
        "github_stars": None,
        "hf_upvotes": 0,
        "hf_observed_at": None,
        "keywords": [],
        "ai_summary": None,
        "organization": None,
        "submitter": None,
        "content_hash": "",
        "first_seen": now,
        "last_changed": now,
    }


def _record_rank(record: PaperRecord) -> int:
    versions = [v.version for v in record.versions]
    return max([record.version or 0, *versions])


def merge_record(row: dict[str, Any], record: PaperRecord) -> None:
    """Merge one record into a paper row in place (see module docstring for the rules)."""
    rank = _record_rank(record)
    current = row["latest_version"] or 0
    overrides = rank >= current
    values = {
        "title": clean_title(record.title),
        "abstract": clean_abstract(record.abstract),
        "primary_category": record.primary_category or (_categories(record) or [None])[0],
        "comments": record.comments,
        "journal_ref": record.journal_ref,
        "doi": record.doi,
        "license": record.license,
        "abs_url": record.abs_url,
        "pdf_url": record.pdf_url,
        "submitter": record.submitter,
    }
    for name in VERSIONED_FIELDS:
        value = values[name]
        if value and (overrides or not row[name]):
            row[name] = value
    if record.authors and (overrides or not row["authors"]):
        row["authors"] = _authors_json(record.authors)
    cats = _categories(record)
    if cats and (overrides or not row["categories"]):
        row["categories"] = cats
    if rank > current:
        row["latest_version"] = rank
    _merge_dates(row, record)
    _merge_signals(row, record)


def _merge_dates(row: dict[str, Any], record: PaperRecord) -> None:
    published = _as_utc(record.published)
    if published and (row["published"] is None or published < _as_utc(row["published"])):
        row["published"] = published
    updated = _as_utc(record.updated)
    if updated and (row["updated"] is None or updated > _as_utc(row["updated"])):
        row["updated"] = updated
    if record.announced and (row["announced"] is None or record.announced < row["announced"]):
        row["announced"] = record.announced


def _merge_signals(row: dict[str, Any], record: PaperRecord) -> None:
    observed = _as_utc(record.observed_at)
    last = _as_utc(row["hf_observed_at"])
    newest = last is None or (observed is not None and observed >= last)
    if record.upvotes is not None and newest:
        row["hf_upvotes"] = record.upvotes
        row["hf_observed_at"] = observed or last
    for name in SIGNAL_FIELDS:
        value = getattr(record, name)
        if value is not None and value != "" and (newest or row[name] is None):
            row[name] = value
    if record.keywords and (newest or not row["keywords"]):
        row["keywords"] = list(dict.fromkeys(record.keywords))


def merge_versions(existing: dict[int, dict], record: PaperRecord) -> None:
    """Add the record's versions to {version: row}, filling details that were missing."""
    entries = list(record.versions)
    if record.version and not any(v.version == record.version for v in entries):
        entries.append(Version(version=record.version))
    for v in entries:
        row = existing.setdefault(v.version, {"version": v.version})
        details = {
            "submitted": _as_utc(v.submitted),
            "title": clean_title(v.title),
            "abstract": clean_abstract(v.abstract),
            "size": v.size,
        }
        if v.version == record.version:
            details["title"] = details["title"] or clean_title(record.title)
            details["abstract"] = details["abstract"] or clean_abstract(record.abstract)
        for key, value in details.items():
            if value is not None and row.get(key) is None:
                row[key] = value


def finish_row(row: dict[str, Any]) -> None:
    """Fill derived columns after merging."""
    row["content_hash"] = content_hash(row["title"], row["abstract"])
    if not row["primary_category"] and row["categories"]:
        row["primary_category"] = row["categories"][0]
