"""Merging source records into one paper row: pure functions, no SQL.

Rules, chosen so that re-importing changes nothing and import order matters as little as possible:
- versioned metadata (title, abstract, authors, categories, comments, journal-ref, DOI, licence)
  comes from the record with the highest arXiv version (a preprint without one ranks 0, a
  published-version record, which has none, below every preprint); a record of a lower rank only
  fills fields that are still empty; between records of one rank (the arXiv corpus and the HF
  archive at one version, two published sources) each field keeps the value that sorts first;
- Hugging Face signals (upvotes, GitHub stars, links, AI summary, organisation) come from the
  newest observation;
- announced is the earliest announcement seen, published the earliest, updated the latest;
- versions are the union of every version seen;
- the published version (a record whose publication_type is not "preprint": ACL, Crossref, a
  journal feed) sets venue, year, track, ISSN, volume, issue, pages, BibTeX and the DOI over what a
  preprint said; between two published-version sources, each field comes from the earliest
  observation that has it, whichever batch brought it (see `refold_publication`);
- two spellings of one DOI (`10.18653/V1/...`, `10.18653/v1/...`) keep the one that sorts first;
- citation counts and the TLDR come from the newest enrichment observation, with its source (at
  one instant: the higher count, and the TLDR of the source whose name sorts last);
- tasks are the union of every source's.

Records find their paper by identifiers (see `record_identifiers`, and store/identity.py), else by
`match_key`: normalised title + first author surname, with years at most one apart (a preprint
posted in December is often published the next year).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import operator
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from typing import Any

from paperroute.models import (
    IDENTIFIER_SCHEMES,
    Author,
    InvalidPaperId,
    PaperRecord,
    Version,
    canonical_id,
    record_key,
    web_url,
)

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
PUBLICATION_FIELDS = (
    "venue",
    "year",
    "track",
    "publication_type",
    "issn",
    "volume",
    "issue",
    "pages",
    "bibtex",
)
CITATION_FIELDS = ("citation_count", "influential_citations", "tldr")
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
    cleaned = squash_spaces(_no_nul(text))
    return cleaned or None


def clean_abstract(text: str | None) -> str | None:
    """Join hard-wrapped abstract lines, keeping paragraph breaks."""
    if text is None:
        return None
    text = _no_nul(text)
    # str.split() is several times faster than a regex here, and this runs for every record.
    paragraphs = _PARAGRAPH.split(text) if "\n" in text else (text,)
    joined = "\n\n".join(map(squash_spaces, paragraphs))
    return joined.strip() or None


def squash_spaces(text: str) -> str:
    """`" ".join(text.split())`, without splitting the common text whose only odd spaces are
    single line breaks (an arXiv abstract: splitting it into words was 12 us of each record)."""
    if text.isascii():
        flat = text.replace("\n", " ")
        # When no other ASCII whitespace is left, `flat` is already what the split and join
        # make if no two spaces meet and none is at either end. Each `in` is one memchr (the
        # isprintable() this replaces read every character through the Unicode tables).
        if (
            not any(map(flat.__contains__, _ASCII_SPACES))
            and flat.find("  ") < 0
            and flat[:1] != " "
            and flat[-1:] != " "
        ):
            return flat
    return " ".join(text.split())


# What str.split() splits ASCII text on, besides the space and the line break.
_ASCII_SPACES = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f"


def content_hash(title: str, abstract: str) -> str:
    """Hash of the text that embeddings are computed from."""
    return hashlib.sha256(f"{title}\n{abstract}".encode()).hexdigest()[:32]


def _plain(value: Any) -> Any:
    # Hand-rolled instead of dataclasses.asdict: asdict deep-copies and was 60% of import time.
    kind = value.__class__
    if kind is str or kind is int:  # most values: one look at the class, not four isinstance
        return value
    if kind is Author:
        return {"name": value.name, "affiliations": list(value.affiliations)}
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
_record_values = operator.attrgetter(*_RECORD_FIELDS)


def record_fields(record: PaperRecord) -> dict[str, Any]:
    """The non-empty fields a record asserts (provenance), JSON-ready, observed_at excluded.

    The abstract is kept as a hash: its text lives in papers/paper_versions, and storing it again
    per source doubled the bytes written on import.
    """
    out = {}
    for name, value in zip(_RECORD_FIELDS, _record_values(record), strict=True):
        if value.__class__ is str:  # most fields: no _plain call
            if value:
                out[name] = value
        elif value is not None and value != [] and value != "":
            out[name] = _plain(value)
    if "abstract" in out:
        out["abstract"] = "sha256:" + hashlib.sha256(out["abstract"].encode()).hexdigest()[:32]
    return out


def _encoder(**options: Any) -> Callable[[Any], str]:
    """`json.JSONEncoder(**options).encode`, with the C encoder built once instead of on every
    call (that was a third of the time of encoding a paper's categories or authors). The text is
    the same: the C encoder is the one `encode` builds, here without the check for circular
    references, which a record's plain values cannot have."""
    spec = json.JSONEncoder(**options)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (another Python): the plain encoder
        return spec.encode
    ascii_only = spec.ensure_ascii
    escape = json.encoder.encode_basestring_ascii if ascii_only else json.encoder.encode_basestring
    encode = make(
        None, spec.default, escape, None, spec.key_separator, spec.item_separator,
        spec.sort_keys, spec.skipkeys, spec.allow_nan,
    )  # fmt: skip

    def encoded(value: Any) -> str:
        if value.__class__ is str:  # `encode` special-cases a bare string too
            return escape(value)
        return "".join(encode(value, 0))

    return encoded


# What SQLAlchemy's JSON columns store (json.dumps with its defaults), and the provenance text.
dumps = _encoder()
_CANONICAL = _encoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(asserted: dict[str, Any]) -> str:
    """The JSON text stored as provenance and hashed to recognise a record."""
    return _CANONICAL(asserted)


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
    cats = list(dict.fromkeys(filter(None, record.categories)))
    if record.primary_category:
        cats = [record.primary_category] + [c for c in cats if c != record.primary_category]
    return cats


# The paper row before any record, in column order; `new_row` copies it.
_EMPTY_ROW: dict[str, Any] = {
    "id": None,
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
    "first_seen": None,
    "last_changed": None,
    **dict.fromkeys(PUBLICATION_FIELDS),
    **dict.fromkeys(CITATION_FIELDS),
    "citations_source": None,
    "citations_observed_at": None,
    "tldr_source": None,
    "tasks": None,
    "match_key": None,
}


def new_row(paper_id: str, now: datetime) -> dict[str, Any]:
    """An empty paper row to merge the first record into."""
    row = _EMPTY_ROW.copy()  # one C-level copy; the lists below are the row's own
    row.update(
        id=paper_id, authors=[], categories=[], keywords=[], first_seen=now, last_changed=now
    )
    return row


def _record_rank(record: PaperRecord) -> int:
    versions = [v.version for v in record.versions]
    return max([record.version or 0, *versions])


def record_texts(record: PaperRecord) -> tuple[str | None, str | None]:
    """The record's title and abstract as stored (clean_title, clean_abstract)."""
    return clean_title(record.title), clean_abstract(record.abstract)


def merge_record(
    row: dict[str, Any], record: PaperRecord, texts: tuple[str | None, str | None] | None = None
) -> None:
    """Merge one record into a paper row in place (see module docstring for the rules);
    `texts` is `record_texts(record)` when the caller has it already."""
    title, abstract = texts or record_texts(record)
    rank = _record_rank(record)
    key = _text_rank(record, rank, bool(title or abstract))
    # The rank of the record whose text the row holds: -1 (published text only) while
    # latest_version is None; a preprint without a version number sets it to 0.
    current = -1 if row["latest_version"] is None else row["latest_version"]
    # A higher rank replaces the text; a lower one only fills empty fields. At a tie (the arXiv
    # corpus and the HF archive word one version differently, `X$^{2}$` / `X^{2}`; two
    # published sources) each field keeps the value that sorts first, so the stored text is the
    # same whatever order the records came in (it flipped on every re-import before).
    newer, tie = key > current, key == current
    values = {
        "title": title,
        "abstract": abstract,
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
        if value and (newer or not row[name] or (tie and value < row[name])):
            row[name] = value
    if record.authors:
        authors = _authors_json(record.authors)
        if newer or not row["authors"] or (tie and _sorts_first(authors, row["authors"])):
            row["authors"] = authors
    cats = _categories(record)
    if cats and (newer or not row["categories"] or (tie and cats < row["categories"])):
        row["categories"] = cats
    if newer and key >= 0:
        row["latest_version"] = key
    _merge_dates(row, record)
    _merge_signals(row, record)
    _merge_publication(row, record)
    _merge_citations(row, record)
    if record.doi and row["doi"] != record.doi:
        row["doi"] = _one_spelling(row["doi"], record.doi)


def _text_rank(record: PaperRecord, rank: int, has_text: bool) -> int:
    """How a record's text ranks: its arXiv version (0 when a preprint gives none); -1 for a
    published version's record, so any preprint's text replaces it in any order (the preprint's
    text is the paper's: the one arXiv, HF and every preprint source share); -2 for a record
    with neither title nor abstract (enrichment: Semantic Scholar, Papers with Code), which
    only fills gaps."""
    if rank == 0 and not has_text:
        return -2
    if is_published(record) and record.version is None and not record.versions:
        return -1
    return rank


def _sorts_first(authors: list[dict], kept: list[dict]) -> bool:
    """Whether an author list sorts before the kept one (by its JSON: dicts have no order)."""
    return authors != kept and dumps(authors) < dumps(kept)


def _one_spelling(kept: str | None, other: str) -> str | None:
    """The kept DOI, or `other` where both spell the same DOI and `other` sorts first (so the
    spelling stored does not depend on which source came last)."""
    if not kept or kept.lower() != other.lower():
        return kept
    return min(kept, other)


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


def merge_versions(
    existing: dict[int, dict],
    record: PaperRecord,
    texts: tuple[str | None, str | None] | None = None,
) -> None:
    """Add the record's versions to {version: row}, filling details that were missing
    (`texts`: `record_texts(record)` when the caller has it already)."""
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
        if v.version == record.version and not (details["title"] and details["abstract"]):
            title, abstract = texts or record_texts(record)
            details["title"] = details["title"] or title
            details["abstract"] = details["abstract"] or abstract
        for key, value in details.items():
            if value is not None and row.get(key) is None:
                row[key] = value


def is_published(record: PaperRecord) -> bool:
    """True for a record of the published version (proceedings, journal), not a preprint."""
    return is_published_type(record.publication_type)


def _merge_publication(row: dict[str, Any], record: PaperRecord) -> None:
    published = is_published(record)
    # A preprint's word on its venue (an arXiv journal-ref parsed by a source) only fills gaps;
    # the published version's own record replaces what a preprint said.
    overrides = published and row["publication_type"] in (None, "preprint")
    for name in PUBLICATION_FIELDS:
        value = getattr(record, name)
        if value not in (None, "") and (overrides or row[name] in (None, "")):
            row[name] = value
    if published and record.doi and (overrides or not row["doi"]):
        row["doi"] = record.doi
    if record.tasks:
        row["tasks"] = sorted({*(row["tasks"] or []), *record.tasks})


def is_published_type(kind: str | None) -> bool:
    """True for the publication_type of a published version (not None, not "preprint")."""
    return bool(kind) and kind != "preprint"


def refold_publication(row: dict[str, Any], observations: list[tuple[datetime, str, str]]) -> None:
    """Set the publication fields (and a published DOI) from the published-version observations
    of a paper, each field from the earliest observation holding it; fields none holds keep
    what preprints said. Batches then agree with one another: merging record by record kept
    whichever published source came first in arrival order."""
    values: dict[str, Any] = {}
    spellings = []
    for _, _, fields_json in sorted(set(observations)):
        asserted = json.loads(fields_json)
        if not is_published_type(asserted.get("publication_type")):
            continue
        for name in (*PUBLICATION_FIELDS, "doi"):
            value = asserted.get(name)
            if value not in (None, ""):
                values.setdefault(name, value)
        spellings.append(asserted.get("doi"))
    doi = values.pop("doi", None)
    row.update(values)
    if doi:
        for other in spellings:
            if other:
                doi = _one_spelling(doi, other)
        same = row["doi"] and row["doi"].lower() == doi.lower()
        row["doi"] = _one_spelling(row["doi"], doi) if same else doi


def _merge_citations(row: dict[str, Any], record: PaperRecord) -> None:
    if record.citation_count is None and record.tldr is None:
        return
    observed = _as_utc(record.observed_at)
    last = _as_utc(row["citations_observed_at"])
    later = last is None or (observed is not None and observed > last)
    # Observations of one instant (a backfill stamps a run with its start) are kept by a rule
    # that is the same in any order: the higher count (then the source name), and the TLDR of
    # the source whose name sorts last; taking "the last one merged" depended on arrival order.
    tie = observed is not None and observed == last
    count = record.citation_count
    if count is not None and (
        later
        or row["citation_count"] is None
        or (tie and (count, record.source) > (row["citation_count"], row["citations_source"] or ""))
    ):
        row["citation_count"] = count
        row["influential_citations"] = record.influential_citations
        row["citations_source"] = record.source
    if record.tldr and (
        later or row["tldr"] is None or (tie and record.source > (row["tldr_source"] or ""))
    ):
        row["tldr"] = record.tldr
        row["tldr_source"] = record.source
    if later:
        row["citations_observed_at"] = observed or last


def absorb_row(row: dict[str, Any], other: dict[str, Any], versions: list[dict]) -> None:
    """Merge another stored paper row (one this paper absorbs) into `row` in place."""
    merge_record(row, row_as_record(other, versions))
    for name in ("citation_count", "influential_citations", "citations_source"):
        if row[name] is None:
            row[name] = other[name]
    for name in ("tldr", "tldr_source", "citations_observed_at"):
        row[name] = row[name] or other[name]
    row["first_seen"] = min(row["first_seen"], other["first_seen"], key=_as_utc)
    row["hidden"] = bool(row.get("hidden")) or bool(other["hidden"])
    row["featured"] = bool(row.get("featured")) or bool(other["featured"])


def row_as_record(row: dict[str, Any], versions: list[dict]) -> PaperRecord:
    """A stored paper row as a record, so merging two papers follows the record rules."""
    names = [*VERSIONED_FIELDS, *SIGNAL_FIELDS, *PUBLICATION_FIELDS]
    return PaperRecord(
        source="merge",
        id=row["id"],
        version=row["latest_version"],
        authors=[Author(a["name"], list(a.get("affiliations") or [])) for a in row["authors"]],
        categories=list(row["categories"]),
        published=row["published"],
        updated=row["updated"],
        announced=row["announced"],
        upvotes=row["hf_upvotes"],
        keywords=list(row["keywords"] or []),
        versions=[
            Version(
                v["version"], v.get("submitted"), v.get("title"), v.get("abstract"), v.get("size")
            )
            for v in versions
        ],
        observed_at=row["hf_observed_at"],
        tasks=list(row["tasks"] or []),
        **{n: row[n] for n in names},
    )


def finish_row(row: dict[str, Any]) -> None:
    """Fill derived columns after merging."""
    row["content_hash"] = content_hash(row["title"], row["abstract"])
    if not row["primary_category"] and row["categories"]:
        row["primary_category"] = row["categories"][0]


def refresh_match_key(row: dict[str, Any], before: dict[str, Any] | None) -> None:
    """Recompute the row's match key when its title or first author changed (only then: this
    runs for every imported record)."""
    first = row["authors"][0]["name"] if row["authors"] else None
    same_title = before is not None and row["match_key"] and row["title"] == before["title"]
    if same_title and before["authors"] and first == before["authors"][0]["name"]:
        return
    row["match_key"] = match_key(row["title"], first)


_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_URL_PREFIX = {
    "openalex": re.compile(r"^https?://openalex\.org/", re.IGNORECASE),
    "openreview": re.compile(r"^https?://openreview\.net/forum\?id=", re.IGNORECASE),
    "pmid": re.compile(r"^https?://pubmed\.ncbi\.nlm\.nih\.gov/", re.IGNORECASE),
}
_ARXIV_NEW = re.compile(r"\d{4}\.\d{4,5}")


def normalise_identifier(scheme: str, value: str) -> str:
    """The form an identifier is stored and looked up in: DOIs lower-cased without a resolver
    prefix, arXiv ids canonical (no version), PMC/OpenAlex ids upper-cased; ValueError if empty."""
    text = " ".join(str(value).split()).strip("/")
    if scheme == "arxiv":
        text = text if _ARXIV_NEW.fullmatch(text) else canonical_id(text)
    elif scheme in ("doi", "biorxiv"):
        text = _DOI_PREFIX.sub("", text).lower()
    elif scheme in _URL_PREFIX:
        text = _URL_PREFIX[scheme].sub("", text).strip("/")
    if scheme in ("pmcid", "openalex"):
        text = text.upper()
    if not text or len(text) > 255:
        raise ValueError(f"identifier {scheme}: {value!r} is empty or longer than 255 characters")
    return text


def record_identifiers(record: PaperRecord) -> dict[str, str]:
    """Every identifier a record carries, normalised: its arXiv id, `identifiers`, its DOI.

    Malformed values are dropped here (the record still has its `id`): a source's bad DOI must
    not make a batch fail, nor merge two papers.
    """
    ids: dict[str, str] = {}
    if _ARXIV_NEW.fullmatch(record.id):  # the common case, without the full id grammar
        ids["arxiv"] = record.id
    elif ":" not in record.id:
        with contextlib.suppress(InvalidPaperId):
            ids["arxiv"] = canonical_id(record.id)
    else:
        scheme, _, value = record.id.partition(":")
        if scheme in IDENTIFIER_SCHEMES:
            _add_identifier(ids, scheme, value)
    for scheme, value in record.identifiers.items():
        if scheme in IDENTIFIER_SCHEMES and value and scheme not in ids:
            _add_identifier(ids, scheme, value)
    if record.doi and "doi" not in ids:
        _add_identifier(ids, "doi", record.doi)
    return ids


def _add_identifier(ids: dict[str, str], scheme: str, value: str) -> None:
    with contextlib.suppress(ValueError):  # InvalidPaperId is a ValueError too
        ids[scheme] = normalise_identifier(scheme, value)


def paper_key(identifiers: dict[str, str], fallback: str) -> str:
    """The store key of a new paper with these identifiers (record_key), else `fallback`."""
    try:
        return record_key(identifiers)
    except ValueError:
        return fallback


def key_rank(paper_id: str) -> tuple[int, str]:
    """Sort key among candidate store keys: an arXiv id first, then by IDENTIFIER_SCHEMES order.

    When papers merge, the best key survives, so an arXiv paper keeps its id (every URL, the HF
    API and huggingface_hub keep working) and a DOI-keyed paper that meets its preprint takes the
    arXiv id; the DOI URL keeps resolving through paper_identifiers.
    """
    scheme, sep, _ = paper_id.partition(":")
    if sep and scheme in IDENTIFIER_SCHEMES:
        return IDENTIFIER_SCHEMES.index(scheme), paper_id
    return 0, paper_id


_MARKS = re.compile("[\u0300-\u036f]+")
_NOT_WORD = re.compile(r"[\W_]+")


# ASCII punctuation to spaces: str.translate is several times faster than a regex on the
# ASCII titles that nearly every record has, and this runs for every record.
_ASCII_PUNCT = str.maketrans(dict.fromkeys(string.punctuation, " "))


def _plain_words(text: str) -> str:
    if text.isascii():
        return " ".join(text.translate(_ASCII_PUNCT).lower().split())
    text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def match_key(title: str | None, first_author: str | None) -> str | None:
    """Normalised title + first author surname ("attention is all you need|vaswani"); None when
    either is missing. Years are compared separately (see `years_agree`)."""
    if not title or not first_author:
        return None
    name = first_author.split(",", 1)[0] if "," in first_author else first_author
    words = _plain_words(name).split()
    words_title = _plain_words(title)
    if not words or not words_title:
        return None
    surname = words[0] if "," in first_author else words[-1]
    return f"{words_title[:200]}|{surname}"[:255]


def record_year(record: PaperRecord) -> int | None:
    """The year a record places its paper in: its venue year, else its first date."""
    when = record.year or (record.published and record.published.year)
    return when or (record.announced and record.announced.year) or None


def row_years(row: dict[str, Any]) -> set[int]:
    """Every year a stored paper row is placed in (venue year, submission, announcement)."""
    years = {row.get("year")}
    for name in ("published", "announced"):
        value = row.get(name)
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        years.add(value.year if value else None)
    return {y for y in years if y}


def years_agree(year: int | None, years: set[int]) -> bool:
    """True when `year` is within one of any of `years` (both known)."""
    return bool(year) and any(abs(year - y) <= 1 for y in years)
