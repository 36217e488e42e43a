"""Generate the labelled search queries (bench/queries/dev.jsonl and test.jsonl) from the corpus.

    python bench/make_queries.py [--per-kind 120] [--papers 28779]

Writing 300+ queries by hand was not feasible, so each query is derived from one target paper's
own fields by a fixed rule (seeded, so the files are reproducible), never by looking at what
any search method returns:

* paraphrase: the Hugging Face `ai_summary` of an HF paper (a one-sentence description written
  by the HF pipeline, not text of the abstract), with every word that also occurs in the title
  removed (so the title cannot be matched word for word). HF papers only: middle sentences of
  arXiv abstracts were tried and dropped ("To fill this gap, we introduce TCM" describes nothing).
* keyword: 3-4 of the HF `ai_keywords` of the paper (in their order).
* known_item: the title, lower-cased, with one or two words dropped and one or two typos
  (adjacent swap, dropped or doubled letter) in words of 5+ letters; HF and arXiv papers.
* author_topic: the first author's surname plus two of the paper's `ai_keywords`; every paper
  of the corpus by an author of that surname whose title or abstract holds both keyword terms
  counts as relevant.

Targets are drawn from the first `--papers` papers of bench/embed.py's corpus order (the 28.8k
corpus: HF archive + first 20,000 arXiv lines). `near_misses`: the 3 papers nearest to the
target by TF-IDF cosine of title + abstract (informational: bench/search_quality.py reports
how often one outranks the target). The split is by a hash of the target id (half dev, half
test), so no paper is a target in both.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from embed import HF, load_corpus  # noqa: E402
from paperroute.search.lexical import stem_tokens  # noqa: E402

QUERIES = Path(__file__).parent / "queries"
SEED = 13


def hf_fields() -> dict[str, dict]:
    """ai_summary and ai_keywords of each HF paper that has them."""
    out = {}
    with gzip.open(HF, "rt") as fh:
        for line in fh:
            p = json.loads(line)["paper"]
            if p.get("ai_summary") or p.get("ai_keywords"):
                out[p["id"]] = {
                    "summary": " ".join((p.get("ai_summary") or "").split()),
                    "keywords": [k for k in p.get("ai_keywords") or [] if k.strip()],
                }
    return out


def without_title_words(text: str, title: str) -> str:
    """The text with every word whose stem occurs in the title removed."""
    banned = set(stem_tokens(title))
    kept = [w for w in text.split() if not set(stem_tokens(w)) & banned]
    return " ".join(kept).strip(" ,.;:")


def typo(word: str, rng: random.Random) -> str:
    """One typing slip in a word: swapped neighbours, a dropped or a doubled letter."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def misremember(title: str, rng: random.Random) -> str:
    """A half-remembered title: lower case, 1-2 words dropped, 1-2 typos."""
    words = [w for w in re.split(r"[\s:]+", title.lower()) if w]
    drops = min(len(words) - 3, rng.choice((1, 2)))
    for _ in range(max(drops, 0)):
        words.pop(rng.randrange(len(words)))
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    for i in rng.sample(long, min(len(long), rng.choice((1, 2)))):
        words[i] = typo(words[i], rng)
    return " ".join(words)


def surname(name: str) -> str:
    """The last word of an author name, when it is a plain word."""
    parts = name.replace(".", " ").split()
    last = parts[-1] if parts else ""
    return last if last.isalpha() and len(last) >= 3 else ""


def main() -> None:
    """Write dev.jsonl and test.jsonl."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=120)
    parser.add_argument("--papers", type=int, default=28_779)
    args = parser.parse_args()
    corpus = load_corpus()[: args.papers]
    fields = hf_fields()
    rng = random.Random(SEED)
    order = list(range(len(corpus)))
    rng.shuffle(order)
    queries = make_queries(corpus, fields, order, args.per_kind, rng)
    add_near_misses(corpus, queries)
    split = {"dev": [], "test": []}
    for q in queries:
        h = int(hashlib.sha1(q["relevant"][0].encode()).hexdigest(), 16)
        split["dev" if h % 2 == 0 else "test"].append(q)
    for name, rows in split.items():
        (QUERIES / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(name, len(rows), {k: sum(r["type"] == k for r in rows) for k in KINDS})


KINDS = ("paraphrase", "keyword", "known_item", "author_topic")


def make_queries(corpus, fields, order, per_kind, rng) -> list[dict]:
    """Up to per_kind queries of each kind, each target used once across kinds."""
    used: set[str] = set()
    by_surname: dict[str, list[int]] = {}
    for i, p in enumerate(corpus):
        for a in p.authors:
            if s := surname(a).lower():
                by_surname.setdefault(s, []).append(i)
    out: list[dict] = []
    counts = dict.fromkeys(KINDS, 0)
    for i in order:
        p = corpus[i]
        if p.id in used or not p.title or len(p.abstract) < 200:
            continue
        f = fields.get(p.id, {})
        kind = min((k for k in KINDS if counts[k] < per_kind and _fits(k, p, f)),
                   key=lambda k: counts[k], default=None)  # fmt: skip
        if kind is None:
            continue
        q = _query(kind, p, f, corpus, by_surname, rng)
        if q is None:
            continue
        used.add(p.id)
        counts[kind] += 1
        out.append(q)
    return out


def _fits(kind: str, p, f: dict) -> bool:
    if kind == "keyword":
        return len(f.get("keywords", [])) >= 3
    if kind == "author_topic":
        return len(f.get("keywords", [])) >= 2 and bool(p.authors and surname(p.authors[0]))
    if kind == "known_item":
        return len(p.title.split()) >= 5
    return bool(f.get("summary"))


def _query(kind, p, f, corpus, by_surname, rng) -> dict | None:
    base = {"type": kind, "target": p.id, "source": p.source}
    if kind == "paraphrase":
        text = without_title_words(f["summary"], p.title)
        if len(text.split()) < 6:
            return None
        return base | {"query": text, "how": "ai_summary", "relevant": [p.id]}
    if kind == "keyword":
        kws = f["keywords"][: rng.choice((3, 4))]
        return base | {"query": " ".join(kws), "how": "ai_keywords", "relevant": [p.id]}
    if kind == "known_item":
        return base | {"query": misremember(p.title, rng), "how": "title", "relevant": [p.id]}
    name = surname(p.authors[0])
    kws = rng.sample(f["keywords"], 2)
    need = [set(stem_tokens(k)) for k in kws]
    relevant = [p.id]
    for j in dict.fromkeys(by_surname.get(name.lower(), [])):
        other = corpus[j]
        terms = set(stem_tokens(other.title + " " + other.abstract))
        if other.id != p.id and all(n <= terms for n in need):
            relevant.append(other.id)
    query = f"{name} {kws[0]} {kws[1]}"
    return base | {"query": query, "how": "surname+ai_keywords", "relevant": relevant}


def add_near_misses(corpus, queries: list[dict], k: int = 3) -> None:
    """Each query's `near_misses`: the target's k nearest other papers by TF-IDF cosine."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    index = {p.id: i for i, p in enumerate(corpus)}
    tfidf = TfidfVectorizer(stop_words="english", min_df=2, sublinear_tf=True)
    mat = tfidf.fit_transform(p.title + " " + p.abstract for p in corpus)
    rows = [index[q["target"]] for q in queries]
    sims = (mat[rows] @ mat.T).toarray()
    for q, row, sim in zip(queries, rows, sims, strict=True):
        sim[row] = -1
        q["near_misses"] = [corpus[j].id for j in sim.argsort()[::-1][:k]]


if __name__ == "__main__":
    main()
