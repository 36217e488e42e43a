"""Highlighting: HTML-escape first, then wrap words whose index term matches a query term in <mark>.

Matching uses the same analyzers as the lexical index, so "transformers" in a query marks
"Transformer" in a title. The abstract is cut to a window around the first match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from paperroute.search.lexical import name_tokens, stem_tokens

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 320


def query_terms(words: Iterable[str]) -> set[str]:
    """Stemmed index terms of query words and phrases."""
    terms: set[str] = set()
    for w in words:
        terms.update(stem_tokens(w))
    return terms


def _matches(word: str, terms: set[str]) -> bool:
    # stem_tokens is memoised (a pure function of the word): measured as fast as the plain dict
    # this module used to keep beside it (~160 ns a word either way)
    stems = stem_tokens(word)
    return (stems[0] if stems else "") in terms


# Pieces of escaped HTML that are not words to mark: formulas, tags and character references.
_NOT_TEXT = re.compile(r"(<math\b.*?</math>|<[^>]*>|&#?\w+;)", re.DOTALL)


def mark_html(safe_html: str, terms: set[str]) -> tuple[str, list[str]]:
    """Already-escaped HTML with matching words in <mark> (tags, entities and MathML untouched),
    and the matched words."""
    out, found = [], []
    for i, piece in enumerate(_NOT_TEXT.split(safe_html)):
        if i % 2 or not terms:
            out.append(piece)
            continue
        pos = 0
        for m in _WORD.finditer(piece):
            if _matches(m.group(), terms):
                out.append(piece[pos : m.start()] + f"<mark>{m.group()}</mark>")
                found.append(m.group())
                pos = m.end()
        out.append(piece[pos:])
    return "".join(out), found


def matched_words(text: str, terms: set[str]) -> list[str]:
    """The words of a plain text that match the query terms, in order (a result's "Matched")."""
    return [m.group() for m in _WORD.finditer(text) if _matches(m.group(), terms)]


def snippet_window(text: str, terms: set[str], size: int = SNIPPET_CHARS) -> tuple[int, int]:
    """(start, end) of a window of about `size` characters of the text around its first
    matching word, beginning and ending between words."""
    start = 0
    if terms and len(text) > size:
        for m in _WORD.finditer(text):
            if _matches(m.group(), terms):
                start = max(0, m.start() - size // 4)
                break
    end = min(len(text), start + size)
    if start:
        # Begin at a word boundary so the snippet does not open mid-word.
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < end else start
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut - start > size // 2 else end
    return start, end


def author_matches(authors: list[str], names: Iterable[str]) -> list[str]:
    """Authors whose name holds every part of one of the asked names."""
    wanted = [set(name_tokens(n)) for n in names]
    return [a for a in authors if any(w and w <= set(name_tokens(a)) for w in wanted)]
