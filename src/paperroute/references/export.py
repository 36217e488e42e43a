"""Write papers as BibTeX, RIS or CSL-JSON, so they can go back into a reference manager.

Every exported entry carries the arXiv id in the fields reference managers read (BibTeX
`eprint` + `archivePrefix`, RIS `UR`/`DO`, CSL `URL`/`number`), so re-importing the file matches
every paper again.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence

from paperroute.models import Paper

MEDIA_TYPES = {
    "bibtex": ("application/x-bibtex", "bib"),
    "ris": ("application/x-research-info-systems", "ris"),
    "csl-json": ("application/vnd.citationstyles.csl+json", "json"),
}


def _split_name(name: str) -> tuple[str, str]:
    """(family, given) from "Given Family" (the arXiv form)."""
    parts = name.split()
    if len(parts) < 2:
        return name, ""
    return parts[-1], " ".join(parts[:-1])


def _year(paper: Paper) -> int | None:
    when = paper.published or paper.announced
    return when.year if when else None


def _abs_url(paper: Paper) -> str:
    return paper.abs_url or f"https://arxiv.org/abs/{paper.id}"


_ESCAPING = re.compile(r"\\+(?=[{}]|$)")


def _bib_value(text: str) -> str:
    # A braced value ends at its balancing brace, so a title like `X}, note = {y` could close
    # it and add fields or entries. Braces must balance: drop the ones that would not. A
    # backslash before a brace escapes it for some readers (bibtexparser) and not for others
    # (BibTeX), and one at the end escapes the closing brace: drop those backslashes too.
    text = " ".join((text or "").split())
    if "\\" in text:  # the scan costs as much as the split, and few values have a backslash
        text = _ESCAPING.sub("", text)
    if "{" not in text and "}" not in text:  # most values: nothing to balance
        return text
    out, depth = [], 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    return "".join(out) + "}" * depth


def _bib_key(paper: Paper, used: set[str]) -> str:
    family = _split_name(paper.authors[0].name)[0] if paper.authors else "anon"
    family = unicodedata.normalize("NFKD", family).encode("ascii", "ignore").decode()
    word = next((w for w in re.findall(r"[A-Za-z]{4,}", paper.title or "")), "paper")
    base = re.sub(r"[^a-z0-9]", "", f"{family}{_year(paper) or ''}{word}".lower()) or "paper"
    key, n = base, 1
    while key in used:
        n += 1
        key = f"{base}{n}"
    used.add(key)
    return key


def to_bibtex(papers: Sequence[Paper]) -> str:
    """BibTeX @misc entries (the form arXiv itself suggests), one per paper."""
    used: set[str] = set()
    blocks = []
    for p in papers:
        fields = [
            ("title", p.title),
            (
                "author",
                " and ".join(", ".join(filter(None, _split_name(a.name))) for a in p.authors),
            ),
            ("year", str(_year(p) or "")),
            ("eprint", p.id),
            ("archivePrefix", "arXiv"),
            ("primaryClass", p.primary_category or ""),
            ("doi", p.doi or ""),
            ("url", _abs_url(p)),
            ("abstract", p.abstract),
        ]
        body = ",\n".join(f"  {k} = {{{_bib_value(v)}}}" for k, v in fields if v)
        blocks.append(f"@misc{{{_bib_key(p, used)},\n{body}\n}}\n")
    return "\n".join(blocks)


def _ris_line(tag: str, value: str) -> str:
    # One tag per line: a line break inside any value (a DOI, a category) would start a forged
    # tag or record, so every value is folded onto its line.
    return f"{tag}  - {' '.join(value.split())}"


def to_ris(papers: Sequence[Paper]) -> str:
    """RIS records (type JOUR, journal "arXiv"), one per paper."""
    lines: list[str] = []
    for p in papers:
        lines.append("TY  - JOUR")
        lines.append(_ris_line("TI", p.title))
        lines.extend(
            _ris_line("AU", ", ".join(filter(None, _split_name(a.name)))) for a in p.authors
        )
        if _year(p):
            lines.append(_ris_line("PY", str(_year(p))))
        lines.append("JO  - arXiv")
        lines.append(_ris_line("M1", f"arXiv:{p.id}"))
        if p.doi:
            lines.append(_ris_line("DO", p.doi))
        lines.append(_ris_line("UR", _abs_url(p)))
        if p.abstract:
            lines.append(_ris_line("AB", p.abstract))
        lines.extend(_ris_line("KW", c) for c in p.categories)
        lines.append("ER  - ")
        lines.append("")
    return "\n".join(lines)


def to_csl_json(papers: Sequence[Paper]) -> str:
    """A CSL-JSON list (type "article", publisher arXiv), one item per paper."""
    items = []
    for p in papers:
        item = {
            "id": f"arXiv:{p.id}",
            "type": "article",
            "title": " ".join(p.title.split()),
            "author": [
                {"family": fam, "given": given} if given else {"literal": fam}
                for fam, given in (_split_name(a.name) for a in p.authors)
            ],
            "publisher": "arXiv",
            "number": p.id,
            "URL": _abs_url(p),
            "abstract": " ".join((p.abstract or "").split()),
        }
        when = p.published or p.announced
        if when:
            item["issued"] = {"date-parts": [[when.year, when.month, when.day]]}
        if p.doi:
            item["DOI"] = p.doi
        items.append(item)
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def export_papers(papers: Sequence[Paper], fmt: str) -> str:
    """Papers in `fmt` (bibtex, ris or csl-json)."""
    writers = {"bibtex": to_bibtex, "ris": to_ris, "csl-json": to_csl_json}
    if fmt not in writers:
        raise ValueError(f"export format: {fmt!r} is not one of {', '.join(writers)}")
    return writers[fmt](papers)
