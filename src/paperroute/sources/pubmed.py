"""PubMed through NCBI E-utilities: esearch with history (WebEnv + query_key), then efetch.

Each PubmedArticle becomes a record keyed by its DOI (else PMID) with its PMID and PMC id as
identifiers, journal, volume, issue and pages. MathML in titles and abstracts becomes $LaTeX$.
NCBI allows 3 requests a second without an API key and 10 with one; the checkpoint holds the
history server's WebEnv and the next retstart, so an interrupted sync resumes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO, Any

from lxml import etree

from paperroute.models import Author, PaperRecord
from paperroute.sources.base import Item, Page, RecordError, SourceError
from paperroute.sources.common import XmlStream, one_line
from paperroute.sources.http import HttpClient
from paperroute.sources.scholarly import element_text, finish_record, identifiers_of, normalise_doi

NAME = "pubmed"
EUTILS = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


def parse_articles(content: bytes, *, first_record: int = 1) -> list[Item]:
    """Every article of an efetch PubmedArticleSet held in memory."""
    return list(stream_articles(io.BytesIO(content), first_record=first_record))


def stream_articles(fh: IO[bytes], *, first_record: int = 1) -> Iterator[Item]:
    """Yield each PubmedArticle of an efetch response as it is read."""
    stream = XmlStream(fh, NAME, first_record)
    root = stream.root()
    if root.tag != "PubmedArticleSet":
        raise SourceError(f"{NAME}: not a PubmedArticleSet (root {root.tag!r}): {stream.head!r}")
    return _articles(stream, first_record)


def _articles(stream: XmlStream, number: int) -> Iterator[Item]:
    for elem in stream.children(1, "PubmedArticle"):
        if elem.tag == "PubmedArticle":
            yield record_from_article(elem, number)
            number += 1
        elif elem.tag == "PubmedBookArticle":
            yield RecordError(NAME, "a book chapter, not an article: skipped", number)
            number += 1


def _text(elem: etree._Element | None, path: str) -> str | None:
    found = elem.find(path) if elem is not None else None
    return element_text(found) if found is not None else None


def record_from_article(article: etree._Element, number: int) -> Item:
    """One PubmedArticle as a record (RecordError naming it when unusable)."""
    citation = article.find("MedlineCitation")
    pmid = _text(citation, "PMID")
    if citation is None or not pmid:
        return RecordError(NAME, "article without PMID", number)
    art = citation.find("Article")
    if art is None:
        return RecordError(NAME, "article without <Article>", number, pmid)
    ids = {
        a.get("IdType"): element_text(a)
        for a in article.findall("PubmedData/ArticleIdList/ArticleId")
    }
    doi = normalise_doi(ids.get("doi")) or normalise_doi(_text(art, "ELocationID[@EIdType='doi']"))
    journal = art.find("Journal")
    day = _pub_date(journal)
    record = PaperRecord(
        source=NAME,
        id="",
        title=_text(art, "ArticleTitle") or _text(art, "VernacularTitle"),
        abstract=_abstract(art),
        authors=_authors(art),
        published=datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None,
        announced=day,
        doi=doi,
        abs_url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        keywords=[
            k for k in (element_text(k) for k in citation.findall("KeywordList/Keyword")) if k
        ]
        + [
            m
            for m in (
                element_text(m)
                for m in citation.findall("MeshHeadingList/MeshHeading/DescriptorName")
            )
            if m
        ],
        identifiers=identifiers_of(doi=doi, pmid=pmid, pmcid=ids.get("pmc")),
        venue=_text(journal, "Title") or _text(journal, "ISOAbbreviation"),
        year=day.year if day else None,
        publication_type="journal",
        issn=_text(journal, "ISSN"),
        volume=_text(journal, "JournalIssue/Volume"),
        issue=_text(journal, "JournalIssue/Issue"),
        pages=_text(art, "Pagination/MedlinePgn") or _text(art, "Pagination/StartPage"),
    )
    return finish_record(record, number, pmid)


def _abstract(art: etree._Element) -> str | None:
    parts = []
    for text in art.findall("Abstract/AbstractText"):
        body = element_text(text)
        if body:
            label = text.get("Label")
            parts.append(f"{label}: {body}" if label else body)
    return " ".join(parts) or None


def _authors(art: etree._Element) -> list[Author]:
    out = []
    for author in art.findall("AuthorList/Author"):
        name = one_line(
            " ".join(p for p in (_text(author, "ForeName"), _text(author, "LastName")) if p)
        )
        name = name or _text(author, "CollectiveName")
        if name:
            places = [element_text(a) for a in author.findall("AffiliationInfo/Affiliation")]
            out.append(Author(name, [p for p in places if p]))
    return out


def _pub_date(journal: etree._Element | None) -> date | None:
    year = (
        _text(journal, "JournalIssue/PubDate/Year")
        or (_text(journal, "JournalIssue/PubDate/MedlineDate") or "")[:4]
    )
    if not year or not year.isdigit():
        return None
    month_text = (_text(journal, "JournalIssue/PubDate/Month") or "1").lower()[:3]
    month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text, 1)
    day_text = _text(journal, "JournalIssue/PubDate/Day") or "1"
    try:
        return date(int(year), month, int(day_text) if day_text.isdigit() else 1)
    except ValueError:
        return date(int(year), 1, 1)


def parse_search(content: bytes) -> dict[str, Any]:
    """Count, WebEnv and QueryKey of an esearch reply; an <ERROR> reply raises SourceError."""
    try:
        root = etree.fromstring(
            content.lstrip(), etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as exc:
        head = " ".join(content[:120].decode("utf-8", "replace").split())
        raise SourceError(f"{NAME}: esearch reply is not XML ({exc.msg}): {head!r}") from None
    error = _text(root, "ERROR") or _text(root, "ErrorList/PhraseNotFound")
    if error and root.find("Count") is None:
        raise SourceError(f"{NAME}: esearch error: {error}")
    count = _text(root, "Count") or "0"
    return {
        "count": int(count) if count.isdigit() else 0,
        "webenv": _text(root, "WebEnv"),
        "query_key": _text(root, "QueryKey"),
    }


def check_fetch_reply(content: bytes) -> None:
    """An efetch reply that is an error page (eFetchResult ERROR, HTML) raises SourceError."""
    head = content[:2048].lstrip()
    if b"<ERROR>" in head or head[:5].lower() in (b"<html", b"<!doc"):
        text = " ".join(head[:200].decode("utf-8", "replace").split())
        raise SourceError(f"{NAME}: efetch error: {text!r}")


class PubMedSource:
    """PubMed articles matching a search term, fetched in batches through the history server."""

    name = NAME

    def __init__(
        self,
        term: str,
        *,
        api_key: str | None = None,
        email: str | None = None,
        batch: int = 200,
        max_results: int | None = None,
        base_url: str = EUTILS,
        client: HttpClient | None = None,
    ) -> None:
        if not term.strip():
            raise SourceError(f"{NAME}: give a search term, e.g. 'crispr[tiab] AND 2024[dp]'")
        self.term, self.api_key, self.email = term.strip(), api_key, email
        self.batch, self.max_results = batch, max_results
        self.base_url = base_url.rstrip("/")
        self.client = client or HttpClient(source=NAME, min_interval=request_interval(api_key))

    @classmethod
    def from_settings(cls, settings: Any, term: str, **options: Any) -> PubMedSource:
        """A source with the configured endpoint, API key and contact address."""
        key = settings.pubmed_api_key.get_secret_value() if settings.pubmed_api_key else None
        client = HttpClient.from_settings(settings, source=NAME, min_interval=request_interval(key))
        options.setdefault("email", settings.crossref_mailto or None)
        return cls(
            term, api_key=key or None, base_url=settings.pubmed_url, client=client, **options
        )

    def _params(self, **extra: Any) -> dict[str, Any]:
        params = {"db": "pubmed", "tool": "paperroute", **extra}
        if self.api_key:
            params["api_key"] = self.api_key
        if self.email:
            params["email"] = self.email
        return params

    def pages(self, checkpoint: Any | None = None) -> Iterator[Page]:
        """A page per efetch batch; checkpoint {"webenv", "query_key", "count", "retstart"}."""
        state = dict(checkpoint or {})
        if not state.get("webenv"):
            reply = self.client.get(
                f"{self.base_url}/esearch.fcgi",
                self._params(term=self.term, usehistory="y", retmax=0),
            )
            state = {**parse_search(reply.content), "retstart": 0}
        total = min(state["count"], self.max_results or state["count"])
        while state["retstart"] < total:
            params = self._params(
                query_key=state["query_key"],
                WebEnv=state["webenv"],
                retmode="xml",
                retstart=state["retstart"],
                retmax=min(self.batch, total - state["retstart"]),
            )
            reply = self.client.get(f"{self.base_url}/efetch.fcgi", params)
            check_fetch_reply(reply.content)
            items = parse_articles(reply.content, first_record=state["retstart"] + 1)
            state = {**state, "retstart": state["retstart"] + max(len(items), 1)}
            yield Page(items=items, checkpoint=state, done=state["retstart"] >= total)
        if total == 0:
            yield Page(done=True)


def request_interval(api_key: str | None) -> float:
    """Seconds between requests NCBI allows: 1/3 without a key, 1/10 with one."""
    return 0.1 if api_key else 1 / 3
