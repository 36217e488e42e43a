"""Comment text to safe HTML: Markdown (markdown-it-py, raw HTML off), LaTeX math through the
same renderer as abstracts (web/mathtext.py), `@handle` mentions, then the nh3 allow-list
sanitiser as the last word on what survives.

Two layers on purpose: markdown-it never emits raw HTML and refuses `javascript:`/`data:`
links itself, and nh3 then keeps only the tags and attributes listed here, only http(s) and
mailto URLs, and gives every link rel="nofollow ugc noopener". The result is stored with the
comment (community/discussion.py), so this runs once per write, never per view.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markupsafe import escape

from paperroute.web.mathtext import _ATTRS as MATH_ATTRS
from paperroute.web.mathtext import _TAGS as MATH_TAGS
from paperroute.web.mathtext import MAX_FORMULA, MAX_FORMULAS, safe_mathml

MAX_MENTIONS = 10  # handles notified per comment; more are shown but notify nobody
_HANDLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}")
_TEXT_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, **{t: set(MATH_ATTRS) for t in MATH_TAGS}}
_OPENERS = (("$$", "$$"), ("\\(", "\\)"), ("$", "$"))  # longest first, as in mathtext


def _math_rule(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    for opener, closer in _OPENERS:
        if not src.startswith(opener, pos):
            continue
        body = pos + len(opener)
        end = src.find(closer, body + 1, state.posMax + 1)
        if end == -1 or end - body > MAX_FORMULA:
            return False
        if not silent:
            count = state.env.setdefault("formulas", 0)
            state.env["formulas"] = count + 1
            token = state.push("math", "math", 0)
            token.content = src[body:end]
            token.markup = opener
            token.meta = {"display": opener == "$$", "source": src[pos : end + len(closer)]}
        state.pos = end + len(closer)
        return True
    return False


def _render_math(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    mathml = None
    if env.get("formulas", 0) <= MAX_FORMULAS:
        mathml = safe_mathml(token.content.strip(), display=token.meta["display"])
    return mathml if mathml is not None else str(escape(token.meta["source"]))


def _mention_rule(state: StateInline, silent: bool) -> bool:
    pos = state.pos
    if state.src[pos] != "@" or (
        pos > 0 and (state.src[pos - 1].isalnum() or state.src[pos - 1] in "_@")
    ):
        return False
    match = _HANDLE.match(state.src, pos + 1, state.posMax)
    if match is None:
        return False
    handle = match.group(0).rstrip(".-")
    if not silent:
        token = state.push("mention", "span", 0)
        token.content = handle
        mentions = state.env.setdefault("mentions", [])
        if handle.lower() not in {m.lower() for m in mentions}:
            mentions.append(handle)
    state.pos = pos + 1 + len(handle)
    return True


def _render_mention(self, tokens, idx, options, env) -> str:
    return f'<span class="mention">@{escape(tokens[idx].content)}</span>'


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.disable("image")  # no remote images: they would track readers (and CSP blocks them)
    # Before `escape`, which would otherwise eat the backslash of \( .. \).
    md.inline.ruler.before("escape", "math", _math_rule)
    md.inline.ruler.before("emphasis", "mention", _mention_rule)
    md.add_render_rule("math", _render_math)
    md.add_render_rule("mention", _render_mention)
    return md


# Built once: nh3.clean() rebuilds its allow-lists on every call (~200 us of CPU per comment),
# a Cleaner keeps them (~20 us).
_CLEANER = nh3.Cleaner(
    tags=_TEXT_TAGS | set(MATH_TAGS),
    attributes=_ATTRIBUTES,
    allowed_classes={"span": {"mention"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="nofollow ugc noopener",
    strip_comments=True,
)


def sanitise(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes; links get nofollow ugc."""
    return _CLEANER.clean(html)


def render_comment(text: str) -> tuple[str, list[str]]:
    """(sanitised HTML, the @handles mentioned, at most MAX_MENTIONS) of a comment's Markdown."""
    env: dict = {}
    html = _markdown().render(text, env)
    return sanitise(html), env.get("mentions", [])[:MAX_MENTIONS]
