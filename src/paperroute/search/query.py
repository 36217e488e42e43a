"""Parsing user queries: quoted phrases, `author:`, `cat:`, `venue:`, `citations:>N`, `-word`,
arXiv ids and URLs.

Parsing never fails: anything that is not syntax is a word. The result also says what kind of
query it is (id, structured, keyword, title-like, natural language), which hybrid fusion uses to
weight lexical against vector results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paperroute.models import canonical_id, is_arxiv_id

MAX_QUERY_CHARS = 1000
MAX_WORDS = 64
_TOKEN = re.compile(
    r"(?P<cites>citations|cited):(?P<op>>=?|=)?(?P<n>\d{1,9})\b|"
    r'(?P<key>author|cat|au|category|venue|journal):(?:"(?P<qv>[^"]*)"?|(?P<v>\S*))|"(?P<phrase>[^"]*)"?|(?P<word>\S+)',
    re.IGNORECASE,
)
_WORDISH = re.compile(r"\w", re.UNICODE)
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "without",
        "we",
        "our",
        "my",
        "me",
        "you",
        "your",
        "into",
        "using",
        "via",
        "about",
        "make",
        "makes",
        "making",
        "them",
        "they",
        "their",
        "there",
        "these",
        "those",
        "than",
        "then",
        "so",
        "such",
    ]
)
_BOOLEAN_WORDS = frozenset({"and", "or", "not"})


@dataclass
class ParsedQuery:
    """A user query split into its parts."""

    raw: str
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    venues: list[str] = field(default_factory=list)  # `venue:ACL`, `journal:1687-725X`
    excluded: list[str] = field(default_factory=list)
    arxiv_id: str | None = None
    # At least this many citations: `citations:>N` is N + 1, `citations:>=N` and `citations:N`
    # are N (also spelt `cited:`)
    min_citations: int | None = None
    message: str | None = None

    @property
    def content_words(self) -> list[str]:
        """Words without stop words (all words when every word is a stop word)."""
        content = [w for w in self.words if w.lower() not in STOP_WORDS]
        return content or self.words

    @property
    def text(self) -> str:
        """Free text for the embedding model: words and phrases, no syntax."""
        return " ".join(self.phrases + self.words).strip()

    @property
    def is_empty(self) -> bool:
        """True when nothing searchable is left."""
        return not (
            self.text
            or self.authors
            or self.categories
            or self.venues
            or self.arxiv_id
            or self.min_citations
        )

    @property
    def filters_only(self) -> bool:
        """Only filter syntax (`cat:cs.CL`, `venue:ACL`, `citations:>N`): no words, phrases or
        authors."""
        return not (self.text or self.authors)

    @property
    def lists_most_cited(self) -> bool:
        """Filters alone with a citation floor: listed most cited first (the other filters
        alone list the newest first, like a category page)."""
        return self.filters_only and bool(self.min_citations)

    @property
    def structured(self) -> bool:
        """Phrases or author constraints: the user wants exact matches."""
        return bool(self.phrases or self.authors)

    @property
    def kind(self) -> str:
        """`id`, `structured`, `keyword`, or `natural` (what fusion weights depend on)."""
        if self.arxiv_id:
            return "id"
        if self.structured:
            return "structured"
        content = [w for w in self.words if w.lower() not in STOP_WORDS]
        stops = len(self.words) - len(content)
        if len(self.words) <= 3 or (stops == 0 and len(self.words) <= 5):
            return "keyword"
        return "natural"


def _clean(raw: str) -> tuple[str, str | None]:
    """Drop control characters and cap the length; say so when something was cut."""
    message = None
    text = "".join(ch if ch.isprintable() else " " for ch in raw)
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        message = f"Query shortened to its first {MAX_QUERY_CHARS} characters."
    return text.strip(), message


def parse_query(raw: str | bytes | None) -> ParsedQuery:
    """Split a raw query into words, phrases, author/category filters and an arXiv id."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text, message = _clean(raw or "")
    parsed = ParsedQuery(raw=text, message=message)
    if text and is_arxiv_id(text):
        parsed.arxiv_id = canonical_id(text)
        return parsed
    for m in _TOKEN.finditer(text):
        if m.group("cites"):
            parsed.min_citations = int(m.group("n")) + (m.group("op") == ">")
        elif m.group("key"):
            value = (m.group("qv") if m.group("qv") is not None else m.group("v") or "").strip()
            if value and _WORDISH.search(value):
                key = m.group("key").lower()
                if key in {"venue", "journal"}:
                    parsed.venues.append(value)
                else:
                    (parsed.authors if key in {"author", "au"} else parsed.categories).append(value)
        elif m.group("phrase") is not None:
            if _WORDISH.search(m.group("phrase")):
                parsed.phrases.append(" ".join(m.group("phrase").split()))
        else:
            _add_word(parsed, m.group("word"))
    if len(parsed.words) > MAX_WORDS:
        parsed.words = parsed.words[:MAX_WORDS]
        parsed.message = parsed.message or f"Only the first {MAX_WORDS} words were used."
    if parsed.is_empty and not parsed.excluded:
        parsed.message = "Type some words to search for, a paper title, or an arXiv id."
    return parsed


def _add_word(parsed: ParsedQuery, word: str) -> None:
    if word.startswith("-") and len(word) > 1 and _WORDISH.search(word):
        parsed.excluded.append(word[1:])
        return
    if not _WORDISH.search(word) or word.lower() in _BOOLEAN_WORDS and word.isupper():
        return  # punctuation-only tokens and bare AND/OR/NOT carry no meaning here
    parsed.words.append(word)
