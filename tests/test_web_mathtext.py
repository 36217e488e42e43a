"""Math rendering of untrusted text (issue 15, item 8): linear time, bounded formulas, and what is
not rendered stays escaped source text; the LaTeX real abstracts use outside math (issue 11)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from lxml import etree, html

from paperroute.web.mathtext import MAX_FORMULA, MAX_FORMULAS, plain_text, render_text

MATHML = "{http://www.w3.org/1998/Math/MathML}"

HOSTILE = [
    "\\(" * 32_000,  # the reported 64 KB abstract: 15 s before
    "$" * 64_000,
    "\\(" * 16_000 + "\\)" * 16_000,
    "$$" + "x" * 64_000,
    ("$a$ " * 16_000),
    "\\(" * 32_000 + "\\)",
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: f"{t[:6]!r}x{len(t)}")
def test_a_64_kb_hostile_abstract_renders_in_well_under_a_second(text):
    render_text.cache_clear()
    start = time.perf_counter()
    out = render_text(text)
    assert time.perf_counter() - start < 1.0
    assert out.count("<math") <= MAX_FORMULAS


def test_only_the_first_formulas_are_rendered_and_the_rest_stay_text():
    out = str(render_text("$x$ " * (MAX_FORMULAS + 5)))
    assert out.count("<math") == MAX_FORMULAS
    assert out.endswith("$x$ " * 4 + "$x$ ")


def test_a_formula_over_the_length_limit_stays_escaped_source():
    long = "$" + "x<y" * (MAX_FORMULA // 3 + 1) + "$"
    out = str(render_text(long))
    assert "<math" not in out and "x&lt;y" in out


def test_unclosed_delimiters_stay_text_and_later_math_still_renders():
    out = str(render_text("costs \\( and then $x^2$ \\( again"))
    root = html.fromstring(f"<div>{out}</div>")
    assert root.text_content().startswith("costs ")
    assert out.count("<math") == 1 and "<msup>" in out


SAMPLES = json.loads((Path(__file__).parent / "data" / "latex_samples.json").read_text())["samples"]
# Text macros and escapes that must never reach the reader as source outside a formula.
KNOWN = re.compile(
    r"\\(textbf|emph|textit|texttt|textsc|underline|pm|times|approx|sim|leq?|geq?|url|href)\b"
    r"|\\[$%&_#]|\^\{?\\?circ"
)


def _visible(out: str):
    """The parsed output (it must be well-formed XML) and its text, each formula as [math]."""
    root = etree.fromstring(f"<div>{out}</div>".encode())
    for math in root.iter(f"{MATHML}math"):
        tail = math.tail
        math.clear()
        math.text, math.tail = "[math]", tail
    return root, " ".join("".join(root.itertext()).split())


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s['feature']}-{s['field']}-{s['id']}")
def test_real_abstracts_and_titles_show_their_latex_as_text(sample):
    root, shown = _visible(str(render_text(sample["text"])))
    assert shown == sample["shows"]
    assert not KNOWN.search(shown), shown
    allowed = {"strong", "em", "code", "span", "u", "sup", "sub", "a", f"{MATHML}math"}
    assert {el.tag for el in root.iterchildren()} <= allowed


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (r"a \textbf{bold \emph{and} more} b", "a <strong>bold <em>and</em> more</strong> b"),
        (r"{\bf Bold} and {\em it}", "<strong>Bold</strong> and <em>it</em>"),
        (r"costs \$5 and \$10", "costs $5 and $10"),
        ("costs $5 and $10 today", "costs $5 and $10 today"),
        (r"between $48-$74 each", "between $48-$74 each"),
        (r"full-360^{circ} and 90^{\circ} and 5^\circ", "full-360° and 90° and 5°"),
        (r"Fig.~3 shows ~50\% \pm 2", "Fig.\xa03 shows ~50% ± 2"),
        (r"\textbf{never closed", r"\textbf{never closed"),
        (r"\method{x} and } and {", r"\method{x} and } and {"),
        (r"\href{javascript:alert(1)}{click}", "click"),
        (
            r"\href{https://a.b/x\_y}{code}",
            '<a href="https://a.b/x_y" rel="nofollow noopener">code</a>',
        ),
        (
            r"\href{https://a/}{\url{https://b/}}",
            '<a href="https://a/" rel="nofollow noopener">https://b/</a>',
        ),
    ],
)
def test_text_macros_become_html_and_anything_else_stays_as_written(text, html):
    assert str(render_text(text)) == html


def test_snippets_and_feeds_get_the_macros_as_plain_characters():
    text = r"We reach \textbf{45.2\%} at \$9, 3.6\times faster, {\em i.e.} $x^2$"
    assert plain_text(text) == "We reach 45.2% at $9, 3.6× faster, i.e. $x^2$"


def _render_seconds(text: str) -> float:
    """The best of three timings of rendering `text` (HTML and plain), caches cleared each time."""
    best = float("inf")
    for _ in range(3):
        plain_text.cache_clear()
        render_text.cache_clear()
        start = time.perf_counter()
        _visible(str(render_text(text)))
        plain_text(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    "unit",
    ["\\textbf{", "{", "\\href{https://x/}{", "\\url{"],
    ids=["textbf", "brace", "href", "url"],
)
def test_a_hostile_pile_of_text_macros_renders_in_linear_time(unit):
    # Compared with itself at a quarter of the size in the same run, not against a wall-clock
    # bound, because the machine is shared: linear work grows about 4x, the old quadratic 16x.
    size = 64_000 // len(unit)
    small, big = _render_seconds(unit * (size // 4)), _render_seconds(unit * size)
    assert big < 9 * small + 0.05, f"{size} x {unit!r}: {big:.3f} s vs {small:.3f} s at a quarter"
    assert big < 10.0
