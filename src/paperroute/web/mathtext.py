"""Untrusted paper text to safe HTML: everything is escaped, and `$...$` LaTeX becomes MathML.

Math is converted server-side with latex2mathml (no external CDN, no script), then parsed as XML and
checked against an allowlist of MathML elements and attributes; anything else (a `<script>` smuggled
through `\\text{}`, an event handler) makes that formula fall back to escaped source text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from latex2mathml.converter import convert
from lxml import etree
from markupsafe import Markup, escape

_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)", re.DOTALL)
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
_MAX_FORMULA = 2000


def _safe_mathml(latex: str, display: bool) -> str | None:
    if len(latex) > _MAX_FORMULA:
        return None
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


@lru_cache(maxsize=20000)
def render_text(text: str | None) -> Markup:
    """Escape untrusted text, rendering `$..$`, `$$..$$` and `\\(..\\)` formulas as MathML."""
    if not text:
        return Markup("")
    out: list[str] = []
    last = 0
    for m in _MATH.finditer(text):
        latex = m.group(1) or m.group(2) or m.group(3)
        mathml = _safe_mathml(latex.strip(), display=m.group(1) is not None)
        out.append(str(escape(text[last : m.start()])))
        out.append(mathml if mathml is not None else str(escape(m.group(0))))
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


@lru_cache(maxsize=20000)
def plain_snippet(text: str | None, limit: int = 300) -> str:
    """The first `limit` characters of a text with whitespace folded (for lists and feeds)."""
    folded = " ".join((text or "").split())
    if len(folded) <= limit:
        return folded
    return folded[:limit].rsplit(" ", 1)[0] + "…"
