"""Untrusted paper text to safe HTML: everything is escaped, and `$...$` LaTeX becomes MathML.

Formulas are found by a linear-time scanner (a regex with lazy `.+?` was quadratic on thousands of
unclosed `\\(`); a formula longer than MAX_FORMULA characters, or past the first MAX_FORMULAS of a
text, stays escaped source text.

Math is converted server-side with latex2mathml (no external CDN, no script), then parsed as XML
and checked against an allowlist of MathML elements and attributes; anything else (a `<script>`
smuggled through `\\text{}`, an event handler) makes that formula fall back to escaped source text.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from latex2mathml.converter import convert
from lxml import etree
from markupsafe import Markup, escape

_NS = "{http://www.w3.org/1998/Math/MathML}"
_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "merror", "semantics", "annotation",
    "mlabeledtr", "mmultiscripts", "mprescripts", "none",
}  # fmt: skip
_ATTRS = {
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
    "linethickness", "columnalign", "rowalign", "columnspacing", "rowspacing", "width",
    "height", "depth", "accent", "accentunder", "movablelimits", "symmetric", "largeop",
    "notation", "displaystyle", "scriptlevel", "form", "minsize", "maxsize", "columnlines",
    "rowlines", "frame", "encoding",
}  # fmt: skip
MAX_FORMULA = 2000  # characters of LaTeX in one formula
MAX_FORMULAS = 100  # formulas rendered per text; later ones stay source text
_DELIMITERS = (("$$", "$$"), ("\\(", "\\)"), ("$", "$"))  # longest opener first


def safe_mathml(latex: str, display: bool) -> str | None:
    """One formula as allow-listed MathML, or None when it cannot be (then show its source)."""
    try:
        xml = convert(latex, display="block" if display else "inline")
        root = etree.fromstring(xml.encode(), parser=etree.XMLParser(resolve_entities=False))
    except Exception:  # latex2mathml raises many types on malformed LaTeX; escape instead
        return None
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag.removeprefix(_NS) not in _TAGS:
            return None
        if any(name not in _ATTRS for name in el.attrib):
            return None
    return etree.tostring(root, encoding="unicode")


class _Finder:
    """`text.find(s, start)` for non-decreasing starts per key, in amortised linear time.

    Each result is remembered, so a later search that starts before it reuses it: the text is
    scanned about once per key (the old lazy regex rescanned to the end for every unclosed opener).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.found: dict[tuple[str, str], int] = {}

    def next(self, role: str, s: str, start: int) -> int:
        """Index of `s` at or after `start`, or -1 (starts must not decrease per role and s)."""
        known = self.found.get((role, s))
        if known is None or (known != -1 and known < start):
            known = self.text.find(s, start)
            self.found[(role, s)] = known
        return known


def scan_math(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """(start, end, latex, display) of each formula, left to right, at most MAX_FORMULAS."""
    finder = _Finder(text)
    pos = count = 0
    while count < MAX_FORMULAS:
        starts = [p for p in (finder.next("open", o, pos) for o in ("$", "\\(")) if p != -1]
        if not starts:
            return
        start = min(starts)
        for opener, closer in _DELIMITERS:
            if not text.startswith(opener, start):
                continue
            body = start + len(opener)
            end = finder.next(opener, closer, body + 1)  # a formula has at least one character
            if end != -1 and end - body <= MAX_FORMULA:
                yield start, end + len(closer), text[body:end], opener == "$$"
                count += 1
                pos = end + len(closer)
                break
        else:
            pos = start + 1  # no closer in reach: this opener is plain text


@lru_cache(maxsize=20000)
def render_text(text: str | None) -> Markup:
    """Escape untrusted text, rendering `$..$`, `$$..$$` and `\\(..\\)` formulas as MathML."""
    if not text:
        return Markup("")
    out: list[str] = []
    last = 0
    for start, end, latex, display in scan_math(text):
        mathml = safe_mathml(latex.strip(), display=display)
        out.append(str(escape(text[last:start])))
        out.append(mathml if mathml is not None else str(escape(text[start:end])))
        last = end
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


@lru_cache(maxsize=20000)
def plain_snippet(text: str | None, limit: int = 300) -> str:
    """The first `limit` characters of a text with whitespace folded (for lists and feeds)."""
    folded = " ".join((text or "").split())
    if len(folded) <= limit:
        return folded
    return folded[:limit].rsplit(" ", 1)[0] + "…"
