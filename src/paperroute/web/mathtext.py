"""Untrusted paper text to safe HTML: everything is escaped, `$...$` LaTeX becomes MathML, and the
LaTeX that abstracts use outside math (text macros, escaped characters, a few symbols) becomes text.

Formulas are found by a linear-time scanner (a regex with lazy `.+?` was quadratic on thousands of
unclosed `\\(`); a formula longer than MAX_FORMULA characters, or past the first MAX_FORMULAS of a
text, stays escaped source text.

Math is converted server-side with latex2mathml (no external CDN, no script), then parsed as XML
and checked against an allowlist of MathML elements and attributes; anything else (a `<script>`
smuggled through `\\text{}`, an event handler) makes that formula fall back to escaped source text.

Outside math, a small tokenizer (one regex pass, a brace stack) turns the macros that a table of
real abstracts uses (tests/data/latex_samples.json) into HTML; any other macro is shown as written,
and a macro whose brace never closes is shown as its source, so the output is always well formed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from latex2mathml.converter import convert
from lxml import etree
from markupsafe import Markup, escape

from paperroute.models import web_url

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
# `\$` is a dollar sign, not math: it is masked by this noncharacter (stripped from the input
# first) so the scanner never sees it, and shown as `$` in text and `\$` in formulas.
_DOLLAR = "\ufdd0"
_TEXT_TAGS = {
    "textbf": ("<strong>", "</strong>"),
    "emph": ("<em>", "</em>"), "textit": ("<em>", "</em>"), "textsl": ("<em>", "</em>"),
    "texttt": ("<code>", "</code>"), "textsc": ('<span class="smallcaps">', "</span>"),
    "underline": ("<u>", "</u>"), "textsuperscript": ("<sup>", "</sup>"),
    "textsubscript": ("<sub>", "</sub>"), "textrm": ("", ""), "textnormal": ("", ""),
    "mbox": ("", ""), "text": ("", ""),
}  # fmt: skip
# Old-style switches act on the rest of their group: `{\bf text}`.
_SWITCHES = {
    "bf": _TEXT_TAGS["textbf"], "em": _TEXT_TAGS["emph"], "it": _TEXT_TAGS["emph"],
    "tt": _TEXT_TAGS["texttt"], "sc": _TEXT_TAGS["textsc"],
}  # fmt: skip
_SYMBOLS = {
    "pm": "±", "mp": "∓", "times": "×", "approx": "≈", "sim": "∼", "simeq": "≃", "leq": "≤",
    "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ll": "≪", "gg": "≫", "ldots": "…",
    "dots": "…", "cdots": "⋯", "cdot": "·", "rightarrow": "→", "leftarrow": "←",
    "Rightarrow": "⇒", "infty": "∞", "deg": "°", "textdegree": "°", "checkmark": "✓",
    "textasciitilde": "~", "textbackslash": "\\", "S": "§", "ie": "i.e.", "eg": "e.g.",
}  # fmt: skip
# One alternation, tried left to right at each position: no nested quantifiers, so the pass is
# linear. `--` and `---` are TeX's en and em dash. `~` between a word and a word is LaTeX's tie
# (a non-breaking space); elsewhere (`~50%`) people mean "about", so it stays. `^{circ}` is a
# common slip for `^{\circ}`. Each alternative starts with its literal character (lookarounds
# after it), so the regex engine skips every other character without trying the alternation:
# a title or abstract scanned in a tenth of the time (most have no token at all).
_TOKEN = re.compile(
    r"\\(?:(?P<link>href|url)\{(?P<target>[^{}\s]{1,2000})\}(?P<label>\{)?"
    r"|(?P<name>[A-Za-z]+)(?P<brace>\{)?"
    r"|(?P<char>[%&_#{}\ufdd0]))"
    r"|\^(?P<degree>\{\\circ\}|\\circ|\{circ\})"
    r"|-(?<!--)(?P<dash>--?)(?!-)"  # the dash's first `-` is outside the group
    r"|~(?<=\S~)(?=[\w\\])"
    r"|\{|\}"
)


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


def _dollar_pair(text: str, start: int, end: int) -> bool:
    """Pandoc's rule for single `$`, so "costs $5 and $10" is prose: no space just inside either
    one, and no digit just after the closer when one follows the opener ("$5-$10"; pandoc refuses
    any digit, which breaks the common "$\\sim$21M")."""
    money = text[start + 1].isdigit() and text[end + 1 : end + 2].isdigit()
    return not (text[start + 1].isspace() or text[end - 1].isspace() or money)


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
            if opener == "$" and end != -1 and not _dollar_pair(text, start, end):
                continue  # falls through to the `else`: this `$` is plain text
            if end != -1 and end - body <= MAX_FORMULA:
                yield start, end + len(closer), text[body:end], opener == "$$"
                count += 1
                pos = end + len(closer)
                break
        else:
            pos = start + 1  # no closer in reach: this opener is plain text


class _TextMode:
    """LaTeX outside math to output pieces; `html` picks tags and escaping, or plain text."""

    def __init__(self, html: bool) -> None:
        self.html = html
        self.out: list[str] = []
        self.stack: list[tuple[int, str | None, str]] = []  # (out index, closing tag, source)
        self.eat_space = False  # TeX drops the space after a switch: `{\\bf x}` is bold "x"
        self.open_links = 0  # a link inside a link is shown as text (HTML cannot nest them)

    def esc(self, text: str) -> str:
        """Text as output: escaped for HTML, the masked dollar shown as `$`."""
        text = text.replace(_DOLLAR, "$")
        return str(escape(text)) if self.html else text

    def feed(self, text: str) -> None:
        """Convert one stretch of text between formulas."""
        last = 0
        for m in _TOKEN.finditer(text):
            self._text(text[last : m.start()])
            self._token(m)
            last = m.end()
        self._text(text[last:])

    def _text(self, text: str) -> None:
        if self.eat_space:
            text, self.eat_space = text.lstrip(" "), False
        if text:
            self.out.append(self.esc(text))

    def _token(self, m: re.Match) -> None:
        name, source = m["name"], m.group(0)
        self.eat_space = False
        if m["link"]:
            self._link(m)
        elif name in _TEXT_TAGS and m["brace"]:
            opening, closing = _TEXT_TAGS[name] if self.html else ("", "")
            self.stack.append((len(self.out), closing, source))
            self.out.append(opening)
        elif name in _SWITCHES and not m["brace"] and self._group_just_opened():
            opening, closing = _SWITCHES[name] if self.html else ("", "")
            index = self.stack[-1][0]
            self.stack[-1] = (index, closing, "{" + source)
            self.out[index] = opening
            self.eat_space = True
        elif name in _SYMBOLS and not m["brace"]:
            self.out.append(self.esc(_SYMBOLS[name]))
        elif m["char"]:
            self.out.append(self.esc(m["char"]))
        elif m["degree"]:
            self.out.append("°")
        elif m["dash"]:
            self.out.append("—" if len(m["dash"]) == 2 else "–")  # TeX's em and en dash
        elif source == "~":
            self.out.append("\xa0")
        elif source == "}":
            closing = self.stack.pop()[1] if self.stack else "}"
            self.open_links -= closing == "</a>"
            self.out.append("}" if closing is None else closing)
        else:  # an unknown macro, with or without its brace, or a bare brace: shown as written
            if m["brace"] or source == "{":
                self.stack.append((len(self.out), None, source))
            self.out.append(self.esc(source))

    def _link(self, m: re.Match) -> None:
        """`\\url{u}` shows u, `\\href{u}{text}` shows text; linked when u is an http(s) URL."""
        target = re.sub(r"\\([%&_#\ufdd0])", r"\1", m["target"]).replace(_DOLLAR, "$")
        url = web_url(target)
        linked = url and self.html and not self.open_links
        opening = f'<a href="{escape(url)}" rel="nofollow noopener">' if linked else ""
        closing = "</a>" if linked else ""
        if m["label"]:
            self.open_links += bool(linked)
            self.stack.append((len(self.out), closing, m.group(0)))
            self.out.append(opening)
        else:
            self.out.append(opening + self.esc(target) + closing)

    def _group_just_opened(self) -> bool:
        """Whether the previous output is a bare `{` (so `{\\bf x}` makes that group bold)."""
        return bool(self.stack) and self.stack[-1] == (len(self.out) - 1, None, "{")

    def finish(self) -> str:
        """The output, with each macro whose brace never closed shown as its source."""
        for index, closing, source in self.stack:
            if closing is not None:
                self.out[index] = self.esc(source)
        return "".join(self.out)


def _convert(text: str, html: bool) -> str:
    """Text to HTML (formulas as MathML) or to plain text (formulas kept as source)."""
    text = text.replace(_DOLLAR, "").replace("\\$", "\\" + _DOLLAR)
    mode = _TextMode(html)
    last = 0
    for start, end, latex, display in scan_math(text) if html else ():
        mode.feed(text[last:start])
        mathml = safe_mathml(latex.strip().replace(_DOLLAR, "$"), display=display)
        mode.out.append(mathml if mathml is not None else mode.esc(text[start:end]))
        last = end
    mode.feed(text[last:])
    return mode.finish()


@lru_cache(maxsize=20000)
def render_text(text: str | None) -> Markup:
    """Escape untrusted text, rendering `$..$`, `$$..$$` and `\\(..\\)` formulas as MathML and
    the common text macros (`\\textbf{}`, `\\%`, `\\pm`, `^{\\circ}`) as HTML."""
    return Markup(_convert(text, html=True)) if text else Markup("")


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """The window widened so it cuts no formula and no `{...}` group (a group keeps the macro
    that opens it), so that what it shows renders as in the whole text."""
    for s, e, _, _ in scan_math(text.replace("\\$", "\\" + _DOLLAR)):
        if s >= end:
            break
        start, end = (s if s < start < e else start), (e if s < end < e else end)
    opened: list[int] = []  # where each open group starts, its macro included
    for m in _BRACES.finditer(text):
        if m.start() >= end and not opened:
            break
        if m.group() == "{":
            macro = _MACRO_BEFORE.search(text, max(0, m.start() - 40), m.start())
            opened.append(macro.start() if macro else m.start())
        elif m.group() == "}" and opened:
            first = opened.pop()
            if not opened:
                start = first if first < start < m.end() else start
                end = m.end() if first < end < m.end() else end
    return start, end


_BRACES = re.compile(r"\\.|[{}]", re.DOTALL)
_MACRO_BEFORE = re.compile(r"\\[A-Za-z]+$")


def render_window(text: str | None, start: int, end: int) -> Markup:
    """`render_text` of text[start:end], widened so no formula or macro is cut, with "…" where
    the text goes on (search snippets and card excerpts: never half a `\\textbf{`)."""
    if not text:
        return Markup("")
    text = text.replace(_DOLLAR, "")
    start, end = _snap(text, start, end)
    shown = render_text(text[start:end].strip())
    return Markup(("…" if start else "") + shown + ("…" if end < len(text) else ""))


@lru_cache(maxsize=20000)
def excerpt_html(text: str | None, limit: int = 300) -> Markup:
    """The first `limit` or so characters of a text, rendered, cut between words."""
    folded = " ".join((text or "").split())
    end = len(folded) if len(folded) <= limit else folded.rfind(" ", 0, limit)
    return render_window(folded, 0, end if end > limit // 2 else limit)


@lru_cache(maxsize=20000)
def plain_text(text: str | None) -> str:
    """The text with the common text macros resolved to plain characters (for snippets, feeds)."""
    return _convert(text, html=False) if text else ""


@lru_cache(maxsize=20000)
def plain_snippet(text: str | None, limit: int = 300) -> str:
    """The first `limit` characters of a text with whitespace folded (for lists and feeds)."""
    folded = " ".join(plain_text(text).split())
    if len(folded) <= limit:
        return folded
    return folded[:limit].rsplit(" ", 1)[0] + "…"
