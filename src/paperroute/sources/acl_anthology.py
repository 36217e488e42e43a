"""ACL Anthology volume XML (the data/xml/<collection>.xml files aclanthology.org is built from).

A collection holds volumes (long, short, findings, demos ... or a journal's issues); each paper
becomes a record keyed by its Anthology id (2024.acl-long.1, J89-1001) with venue, year, the
volume as its track, awards, PDF and code links, and the DOI where the Anthology has one. The
file is streamed (XmlStream): each paper is freed once read, so big collections cost little
memory. BibTeX is never rebuilt: the Anthology's own volume .bib is attached as given.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from typing import IO, Any

from lxml import etree

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import XmlStream, one_line
from paperroute.sources.http import HttpClient
from paperroute.sources.scholarly import element_text, finish_record, identifiers_of, normalise_doi

NAME = "acl-anthology"
SITE = "https://aclanthology.org"
DATA_URL = "https://raw.githubusercontent.com/acl-org/acl-anthology/master/data/xml"
_BIB_ENTRY = re.compile(r"^@\w+\{", re.MULTILINE)
_BIB_URL = re.compile(r'url\s*=\s*["{]\s*https?://aclanthology\.org/([^"}\s/]+)/?\s*["}]')


def bibtex_entries(text: str) -> dict[str, str]:
    """{anthology id: its BibTeX entry exactly as written} from an Anthology .bib file."""
    starts = [m.start() for m in _BIB_ENTRY.finditer(text)] + [len(text)]
    found = {}
    for start, end in zip(starts, starts[1:], strict=False):
        entry = text[start:end].strip()
        match = _BIB_URL.search(entry)
        if match:
            found[match.group(1)] = entry
    return found


def parse_collection(content: bytes, bibtex: dict[str, str] | None = None) -> list[Item]:
    """Every paper of a collection held in memory."""
    return list(stream_collection(io.BytesIO(content), bibtex))


def stream_collection(fh: IO[bytes], bibtex: dict[str, str] | None = None) -> Iterator[Item]:
    """Yield each paper of a collection file as it is read."""
    stream = XmlStream(fh, NAME)
    root = stream.root()
    if root.tag != "collection":
        raise SourceError(
            f"{NAME}: not an Anthology collection (root {root.tag!r}): {stream.head!r}"
        )
    return _papers(stream, root.get("id") or "", bibtex or {})


def _papers(stream: XmlStream, collection: str, bibtex: dict[str, str]) -> Iterator[Item]:
    meta: dict[str, Any] = {}
    number = 0
    for elem in stream.children(2, "paper"):
        if elem.tag == "meta":
            meta = _meta(elem)
        elif elem.tag == "paper":
            number += 1
            volume = elem.getparent()
            vol = (
                {"id": volume.get("id", ""), "type": volume.get("type")}
                if volume is not None
                else {}
            )
            yield record_from_paper(elem, number, collection, vol, meta, bibtex)
        elif elem.tag == "volume":
            meta = {}


def _meta(elem: etree._Element) -> dict[str, Any]:
    def text(tag: str) -> str | None:
        found = elem.find(tag)
        return element_text(found) if found is not None else None

    year = text("year") or ""
    return {
        "booktitle": text("booktitle"),
        "venues": [element_text(v) for v in elem.findall("venue") if element_text(v)],
        "year": int(year) if year.isdigit() else None,
        "journal_volume": text("journal-volume"),
        "journal_issue": text("journal-issue"),
        "journal_title": text("journal-title"),
    }


def anthology_id(collection: str, volume: str, paper: str, url: str | None) -> str:
    """The paper's Anthology id: its <url> file name, else the new-style id."""
    if url and not url.startswith(("http://", "https://")):
        return url.strip()
    return f"{collection}-{volume}.{paper}"


def record_from_paper(
    paper: etree._Element,
    number: int,
    collection: str,
    volume: dict[str, Any],
    meta: dict[str, Any],
    bibtex: dict[str, str],
) -> Item:
    """One <paper> as a record (RecordError naming it when unusable)."""
    url_elem = paper.find("url")
    url = element_text(url_elem) if url_elem is not None else None
    if not paper.get("id"):
        return RecordError(NAME, "paper without id", number, collection)
    acl_id = anthology_id(collection, volume.get("id", ""), paper.get("id", ""), url)

    def text(tag: str) -> str | None:
        found = paper.find(tag)
        return element_text(found) if found is not None else None

    awards = [element_text(a) for a in paper.findall("award") if element_text(a)]
    code = paper.find("pwccode")
    is_journal = volume.get("type") == "journal"
    venues = meta.get("venues") or []
    record = PaperRecord(
        source=NAME,
        id="",
        title=text("title"),
        abstract=text("abstract"),
        authors=[_person(a) for a in paper.findall("author") if _person(a).name],
        doi=normalise_doi(text("doi")),
        abs_url=f"{SITE}/{acl_id}",
        pdf_url=f"{SITE}/{acl_id}.pdf",
        code_url=(code.get("url") or None) if code is not None else None,
        comments="; ".join(awards) or None,
        keywords=[f"award: {a}" for a in awards],
        identifiers=identifiers_of(acl=acl_id, doi=normalise_doi(text("doi"))),
        venue=meta.get("journal_title")
        or (venues[0].upper() if venues else None)
        or meta.get("booktitle"),
        year=meta.get("year"),
        track=None if is_journal else volume.get("id") or None,
        publication_type="journal" if is_journal else "proceedings",
        volume=meta.get("journal_volume") if is_journal else None,
        issue=meta.get("journal_issue") or text("issue") if is_journal else None,
        pages=(text("pages") or "").replace("–", "-") or None,
        bibtex=bibtex.get(acl_id),
    )
    return finish_record(record, number, acl_id)


def _person(elem: etree._Element) -> Author:
    first = elem.find("first")
    last = elem.find("last")
    parts = [element_text(p) for p in (first, last) if p is not None]
    places = [element_text(a) for a in elem.findall("affiliation")]
    return Author(one_line(" ".join(p for p in parts if p)) or "", [p for p in places if p])


class AclAnthologySource:
    """Collections fetched from the Anthology's data folder, one page per collection."""

    name = NAME

    def __init__(
        self,
        collections: Sequence[str],
        *,
        base_url: str = DATA_URL,
        site_url: str = SITE,
        with_bibtex: bool = True,
        client: HttpClient | None = None,
    ) -> None:
        if not collections:
            raise SourceError(f"{NAME}: give at least one collection, e.g. 2024.acl")
        self.collections = [c.strip().removesuffix(".xml") for c in collections if c.strip()]
        self.base_url, self.site_url = base_url.rstrip("/"), site_url.rstrip("/")
        self.with_bibtex = with_bibtex
        self.client = client or HttpClient(source=NAME)

    @classmethod
    def from_settings(
        cls, settings: Any, collections: Sequence[str], **options: Any
    ) -> AclAnthologySource:
        """A source with the configured data URL, timeout and retries."""
        client = HttpClient.from_settings(settings, source=NAME, min_interval=1.0)
        return cls(collections, base_url=settings.acl_anthology_url, client=client, **options)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """One page per collection; checkpoint {"done": collections finished}."""
        done = int((checkpoint or {}).get("done", 0))
        for index, collection in enumerate(self.collections[done:], start=done + 1):
            response = self.client.get(f"{self.base_url}/{collection}.xml", accept=(404,))
            if response.status_code == 404:
                raise SourceError(f"{NAME}: no collection {collection!r} at {response.url}")
            items = parse_collection(response.content)
            if self.with_bibtex:
                self._attach_bibtex(items)
            yield Page(items=items, checkpoint={"done": index}, done=index == len(self.collections))

    def _attach_bibtex(self, items: list[Item]) -> None:
        ids = [r.identifiers.get("acl", "") for r in items if isinstance(r, PaperRecord)]
        volumes = sorted({i.rsplit(".", 1)[0] for i in ids if "." in i})
        entries: dict[str, str] = {}
        for volume in volumes:
            response = self.client.get(f"{self.site_url}/volumes/{volume}.bib", accept=(404,))
            if response.is_success:
                entries.update(bibtex_entries(response.text))
        for item in items:
            if isinstance(item, PaperRecord):
                item.bibtex = entries.get(item.identifiers.get("acl", ""), item.bibtex)
