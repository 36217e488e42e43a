"""'Did you mean': the title word closest to a misspelt query word.

The candidates are the words of titles that tantivy's fuzzy term query matched (so no vocabulary
is held in memory); rapidfuzz picks the closest by edit distance, ties going to the more common.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein

_WORD = re.compile(r"[^\W\d_]{3,}")


def closest_word(word: str, titles: Iterable[str]) -> str | None:
    """The title word nearest to `word` (at most 2 edits, or 1 for short words), or None."""
    wanted = word.lower()
    limit = 1 if len(wanted) <= 4 else 2
    counts = Counter(w.lower() for t in titles for w in _WORD.findall(t))
    best: tuple[int, int, str] | None = None
    for candidate, n in counts.items():
        if candidate == wanted:
            continue
        dist = Levenshtein.distance(wanted, candidate, score_cutoff=limit)
        if dist <= limit and (best is None or (dist, -n) < best[:2]):
            best = (dist, -n, candidate)
    return best[2] if best else None
