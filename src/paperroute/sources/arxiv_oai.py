"""arXiv OAI-PMH harvester: ListRecords in the `arXiv` and `arXivRaw` metadata formats.

`parse_oai_response` turns one saved or live response into records; `ArxivOAISource` pages through a
harvest with resumption tokens. Its checkpoint is {"token": ..., "params": ...}: saved after each
page is stored, it lets an interrupted harvest resume with the next token. Deleted records are
skipped and counted (`deleted`), not reported as errors. `noRecordsMatch` is an empty harvest.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from lxml import etree

from paperroute.models import Author, PaperRecord, Version
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import (
    XmlStream,
    abs_url,
    arxiv_categories,
    arxiv_id_or_error,
    checked,
    clean_text,
    feed_datetime,
    parse_datetime,
    pdf_url,
    split_author_string,
    xml_text,
)
from paperroute.sources.http import HttpClient

NAME = "arxiv-oai"
OAI = "http://www.openarchives.org/OAI/2.0/"
FORMATS = {"arXiv": "http://arxiv.org/OAI/arXiv/", "arXivRaw": "http://arxiv.org/OAI/arXivRaw/"}
_O = {"o": OAI}


@dataclass
class OaiPage:
    """What one OAI-PMH response held."""

    items: list[Item] = field(default_factory=list)
    token: str | None = None  # next resumptionToken; None when the list is complete
    records: int = 0  # <record>s in the response, deleted ones included
    deleted: int = 0
    complete_list_size: int | None = None


def parse_oai_response(content: bytes, *, first_record: int = 1, source: str = NAME) -> OaiPage:
    """Parse ListRecords/GetRecord; OAI errors raise SourceError (noRecordsMatch is empty)."""
    page = OaiPage()
    page.items = list(
        stream_oai(io.BytesIO(content), page, first_record=first_record, source=source)
    )
    return page


def stream_oai(
    fh: IO[bytes], page: OaiPage, *, first_record: int = 1, source: str = NAME
) -> Iterator[Item]:
    """Yield the records of an OAI-PMH file as they are read, filling `page`'s counts and token."""
    stream = XmlStream(fh, source, first_record)
    root = stream.root()
    if root.tag != f"{{{OAI}}}OAI-PMH":
        raise SourceError(
            f"{source}: not an OAI-PMH response (root element {root.tag!r}): {stream.head!r}"
        )
    observed = None
    number = first_record
    for elem in stream.children(2, f"{{{OAI}}}record"):
        if elem.tag == f"{{{OAI}}}responseDate":
            observed = feed_datetime(clean_text(elem.text))
        elif elem.tag == f"{{{OAI}}}error":
            _raise_error(elem, source)
            return
        elif elem.tag == f"{{{OAI}}}resumptionToken":
            page.token = clean_text(elem.text)
            size = elem.get("completeListSize")
            page.complete_list_size = (
                int(size) if size and size.isascii() and size.isdigit() else None
            )
        elif elem.tag == f"{{{OAI}}}record":
            page.records += 1
            header = elem.find("o:header", _O)
            if header is not None and header.get("status") == "deleted":
                page.deleted += 1
            else:
                yield _parse_record(elem, number, observed, source)
            number += 1


def _raise_error(error: etree._Element, source: str) -> None:
    """An OAI-PMH <error>: noRecordsMatch is an empty harvest, anything else a SourceError."""
    code = error.get("code", "unknown")
    if code == "noRecordsMatch":
        return
    message = " ".join("".join(error.itertext()).split())
    hint = " (the saved checkpoint expired; sync again from the start)" if "Token" in code else ""
    raise SourceError(f"{source}: OAI-PMH error {code}: {message}{hint}")


def _parse_record(
    record: etree._Element, number: int, observed: datetime | None, source: str
) -> Item:
    oai_id = xml_text(record, "o:header/o:identifier", _O)
    metadata = record.find("o:metadata", _O)
    body = metadata[0] if metadata is not None and len(metadata) else None
    if body is None:
        return RecordError(source, "missing <metadata>", number, oai_id)
    ns_uri = etree.QName(body).namespace
    kind = next((k for k, uri in FORMATS.items() if uri == ns_uri), None)
    if kind is None:
        return RecordError(source, f"unsupported metadata format {body.tag!r}", number, oai_id)
    ns = {"a": ns_uri}
    parsed = arxiv_id_or_error(xml_text(body, "a:id", ns), source, number)
    if isinstance(parsed, RecordError):
        parsed.record_id = parsed.record_id or oai_id
        return parsed
    paper_id = parsed[0]
    title = xml_text(body, "a:title", ns)
    if not title:
        return RecordError(source, "missing <title>", number, oai_id or paper_id)
    categories = arxiv_categories(xml_text(body, "a:categories", ns))
    rec = PaperRecord(
        source=source,
        id=paper_id,
        title=title,
        abstract=xml_text(body, "a:abstract", ns),
        primary_category=categories[0] if categories else None,
        categories=categories,
        comments=xml_text(body, "a:comments", ns),
        journal_ref=xml_text(body, "a:journal-ref", ns),
        doi=xml_text(body, "a:doi", ns),
        license=xml_text(body, "a:license", ns),
        abs_url=abs_url(paper_id),
        pdf_url=pdf_url(paper_id),
        observed_at=observed,
    )
    try:
        if kind == "arXiv":
            _fill_arxiv(rec, body, ns)
        else:
            _fill_arxiv_raw(rec, body, ns)
    except ValueError as exc:
        return RecordError(source, str(exc), number, oai_id or paper_id)
    return checked(rec, number, oai_id or paper_id)


def _fill_arxiv(rec: PaperRecord, body: etree._Element, ns: dict[str, str]) -> None:
    rec.published = parse_datetime(xml_text(body, "a:created", ns))
    rec.updated = parse_datetime(xml_text(body, "a:updated", ns))
    for author in body.iterfind("a:authors/a:author", ns):
        parts = [xml_text(author, f"a:{p}", ns) for p in ("forenames", "keyname", "suffix")]
        name = " ".join(p for p in parts if p)
        if name:
            affiliations = [clean_text(a.text) for a in author.iterfind("a:affiliation", ns)]
            rec.authors.append(Author(name, [a for a in affiliations if a]))


def _fill_arxiv_raw(rec: PaperRecord, body: etree._Element, ns: dict[str, str]) -> None:
    rec.submitter = xml_text(body, "a:submitter", ns)
    rec.authors = [Author(n, a) for n, a in split_author_string(xml_text(body, "a:authors", ns))]
    for element in body.iterfind("a:version", ns):
        label = (element.get("version") or "").lstrip("v")
        if not label.isdigit():
            raise ValueError(f"bad version {element.get('version')!r}")
        rec.versions.append(
            Version(
                version=int(label),
                submitted=parse_datetime(xml_text(element, "a:date", ns)),
                size=xml_text(element, "a:size", ns),
            )
        )
    rec.versions.sort(key=lambda v: v.version)
    if rec.versions:
        rec.version = rec.versions[-1].version
        rec.published = rec.versions[0].submitted
        rec.updated = rec.versions[-1].submitted


class ArxivOAISource:
    """A live ListRecords harvest, resumable from a {"token", "params"} checkpoint."""

    name = NAME

    def __init__(
        self,
        *,
        base_url: str = "https://oaipmh.arxiv.org/oai",
        metadata_prefix: str = "arXiv",
        set_spec: str | None = None,
        from_date: date | str | None = None,
        until_date: date | str | None = None,
        client: HttpClient | None = None,
    ) -> None:
        if metadata_prefix not in FORMATS:
            known = ", ".join(FORMATS)
            raise SourceError(
                f"{NAME}: unsupported metadataPrefix {metadata_prefix!r}; use {known}"
            )
        self.base_url = base_url
        self.params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
        if set_spec:
            self.params["set"] = set_spec
        if from_date:
            self.params["from"] = str(from_date)
        if until_date:
            self.params["until"] = str(until_date)
        self.client = client or HttpClient(source=NAME)
        self.deleted = 0  # deleted records skipped so far (information, not errors)
        self.complete_list_size: int | None = None

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> ArxivOAISource:
        """A harvester using the configured endpoint, timeout and retries."""
        client = HttpClient.from_settings(settings, source=NAME)
        return cls(base_url=settings.arxiv_oai_url, client=client, **options)

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """Yield one page per response; resume from the checkpoint's token when its params match."""
        token = None
        if isinstance(checkpoint, dict) and checkpoint.get("params") == self.params:
            token = checkpoint.get("token")
        number = 1
        while True:
            query = {"verb": "ListRecords", "resumptionToken": token} if token else self.params
            response = self.client.get(self.base_url, query)
            page = parse_oai_response(response.content, first_record=number)
            number += page.records
            self.deleted += page.deleted
            self.complete_list_size = page.complete_list_size or self.complete_list_size
            token = page.token
            checkpoint = {"token": token, "params": self.params} if token else None
            yield Page(items=page.items, checkpoint=checkpoint, done=token is None)
            if token is None:
                return
