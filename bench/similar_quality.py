"""Quality of "similar papers" and "more like these": Recall@10 against an author-group proxy.

    python bench/similar_quality.py [--seeds 300]

No labelled neighbour set exists, so this uses a proxy: the papers of the corpus that share at
least two authors with a seed paper (an author group usually keeps working on one topic). A
seed needs at least one such paper. Recall@10 = neighbours among the first 10 / min(10,
neighbours). Same store as bench/search_quality.py (28,779 papers). Methods:

* `similar()` as shipped (the seed's MiniLM vector, nearest neighbours through the ANN);
* TF-IDF cosine of title + abstract (sklearn, the classic baseline);
* `more_like()` of two papers of one group, against the group's other papers.

Authors are not an input of any method, so the proxy is fair to all of them; it is noisy
(groups also change topic, and two common names can coincide), so read it comparatively.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402

from embed import load_corpus  # noqa: E402
from search_quality import build_store  # noqa: E402

PAPERS = 28_779
MIN_SHARED = 2


def author_groups(corpus) -> dict[str, set[str]]:
    """Each paper's proxy neighbours: other papers sharing at least MIN_SHARED authors."""
    by_author: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(corpus):
        for a in {a.strip().lower() for a in p.authors if a.strip()}:
            by_author[a].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for papers in by_author.values():
        if len(papers) > 200:  # a name this common is not a group signal
            continue
        for a, b in combinations(papers, 2):
            shared[a, b] += 1
    out: dict[str, set[str]] = defaultdict(set)
    for (a, b), n in shared.items():
        if n >= MIN_SHARED:
            out[corpus[a].id].add(corpus[b].id)
            out[corpus[b].id].add(corpus[a].id)
    return out


def recall(ranked: list[str], relevant: set[str]) -> float:
    """Share of the neighbours found among the first 10 (out of at most 10)."""
    return len(set(ranked[:10]) & relevant) / min(10, len(relevant))


def main() -> None:
    """Build or reuse the store, score each method on the sampled seeds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300)
    args = parser.parse_args()
    corpus = load_corpus()[:PAPERS]
    groups = author_groups(corpus)
    rng = random.Random(13)
    seeds = rng.sample(sorted(groups), min(args.seeds, len(groups)))
    service = build_store(PAPERS)
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [f"{p.title} {p.abstract}" for p in corpus]
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2).fit_transform(texts)
    row = {p.id: i for i, p in enumerate(corpus)}
    scores: dict[str, list[float]] = defaultdict(list)
    for seed in seeds:
        relevant = groups[seed]
        ranked = [h.id for h in service.similar(seed, k=10).hits]
        scores["similar() (MiniLM, ANN), shipped"].append(recall(ranked, relevant))
        sims = (tfidf @ tfidf[row[seed]].T).toarray().ravel()
        sims[row[seed]] = -1
        top = np.argsort(-sims)[:10]
        scores["TF-IDF cosine (title + abstract)"].append(
            recall([corpus[i].id for i in top], relevant)
        )
    pairs = [s for s in seeds if len(groups[s]) >= 3]
    for seed in pairs:
        other = sorted(groups[seed])[0]
        relevant = groups[seed] - {other}
        ranked = [h.id for h in service.more_like([seed, other], k=10).hits]
        scores["more_like() of two group papers, shipped"].append(recall(ranked, relevant))
    print(
        f"seeds: {len(seeds)} (with a >= {MIN_SHARED}-shared-author neighbour), pairs: {len(pairs)}"
    )
    print("| method | Recall@10 | seeds |\n|---|---|---|")
    for name, vals in scores.items():
        print(f"| {name} | {sum(vals) / len(vals):.3f} | {len(vals)} |")


if __name__ == "__main__":
    main()
