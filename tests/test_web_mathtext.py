"""Math rendering of untrusted text (issue 15, item 8): linear time, bounded formulas, and what is
not rendered stays escaped source text."""

from __future__ import annotations

import time

import pytest
from lxml import html

from paperroute.web.mathtext import MAX_FORMULA, MAX_FORMULAS, render_text

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
