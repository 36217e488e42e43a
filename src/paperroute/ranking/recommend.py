"""Personal recommendations: rank candidate papers for one reader, and say why.

Pure functions over plain data (numpy arrays of L2-normalised paper embeddings, ids, strings);
no I/O. The store supplies the reader's positives (collection items and upvotes) and negatives
("not interested"); the search package supplies the vectors.

The model, chosen on the offline evaluation in `bench/recommend_quality.py`:
- a linear SVM per reader over the embedding (scaled down) joined with sparse features, TF-IDF
  of title + abstract words and bigrams and of author names (idf over the candidate window, as
  arxiv-sanity-lite does over its corpus): positives against the reader's explicit negatives
  (weighted up) and a sample of the candidate window as implicit negatives;
- blended with a nearest-neighbour score (mean of the top-k cosine similarities to saved papers),
  which keeps a reader with several distinct interests from being averaged into one;
- plus "by authors you saved" (rare names count more);
- minus a penalty for closeness to papers the reader marked "not interested";
- with one or two saved papers the model has too little to learn from, so the score is the
  nearest-neighbour similarity alone (the fallback).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

from paperroute.store.papers import author_key  # the store's own name key

if TYPE_CHECKING:  # scipy loads with scikit-learn, on first use (the CLI starts without it)
    from scipy import sparse

# Tuned on the validation split of bench/recommend_quality.py (see docs/recommendations.md).
DEFAULT_C = 0.01
DEFAULT_KNN_K = 3
DEFAULT_BLEND = 0.75  # weight of the linear model; 1 - BLEND goes to nearest neighbours
DEFAULT_NEG_PENALTY = 1.0
DEFAULT_NEG_WEIGHT = 5.0  # an explicit "not interested" counts as this many implicit negatives
DEFAULT_AUTHOR_WEIGHT = 0.25  # weight of "by authors you saved" next to the content score
DEFAULT_DENSE_SCALE = 0.1  # the embedding next to unit-length TF-IDF blocks: more drowns words
DEFAULT_TEXT_WEIGHT = 1.0
DEFAULT_NAME_WEIGHT = 2.0  # the author-name block of the linear model
DEFAULT_MAX_DF = 0.1  # words on more than this share of the window say nothing (arxiv-sanity's)
MIN_POSITIVES_FOR_MODEL = 3
MAX_BACKGROUND = 2000  # implicit negatives sampled from the candidates (keeps training ~30 ms)
HASHED_COLUMNS = 2**18  # per sparse block; collisions at this size are rare and harmless

WINDOWS = {"day": 1, "3days": 3, "week": 7, "month": 30}


@dataclass
class Params:
    """Model settings; the defaults are the tuned ones."""

    c: float = DEFAULT_C
    knn_k: int = DEFAULT_KNN_K
    blend: float = DEFAULT_BLEND
    neg_penalty: float = DEFAULT_NEG_PENALTY
    neg_weight: float = DEFAULT_NEG_WEIGHT
    author_weight: float = DEFAULT_AUTHOR_WEIGHT
    dense_scale: float = DEFAULT_DENSE_SCALE
    text_weight: float = DEFAULT_TEXT_WEIGHT
    name_weight: float = DEFAULT_NAME_WEIGHT
    max_df: float = DEFAULT_MAX_DF
    few_saved_boost: bool = True  # see dense_scale()
    min_positives_for_model: int = MIN_POSITIVES_FOR_MODEL
    max_background: int = MAX_BACKGROUND
    shortlist: int = 3000  # windows larger than this get nearest neighbours on a shortlist
    stats_sample: int = 2000
    seed: int = 0


@dataclass
class Terms:
    """Hashed term counts of papers, one row per paper: words (1-2-grams, sublinear tf) of title
    + abstract, and author names (one column per name key)."""

    words: sparse.csr_matrix
    names: sparse.csr_matrix

    def __len__(self) -> int:
        return self.words.shape[0]

    def rows(self, index: Sequence[int] | np.ndarray) -> Terms:
        """The given rows, in that order."""
        return Terms(self.words[index], self.names[index])


@dataclass
class TermSpace:
    """Inverse document frequencies of the candidate window: the same scale for candidates and
    for saved papers outside the window."""

    words_idf: np.ndarray
    names_idf: np.ndarray


@dataclass
class Features:
    """What the linear model sees of the candidates, positives and negatives: each one's sparse
    TF-IDF rows (the embedding is joined in by the model itself)."""

    candidates: sparse.csr_matrix
    positives: sparse.csr_matrix
    negatives: sparse.csr_matrix
    shared: dict | None = None  # the candidates' model rows, kept by whoever owns the window


@dataclass
class LinearModel:
    """A reader's fitted linear model: weights of the embedding and of the sparse features."""

    dense: np.ndarray
    sparse: np.ndarray | None
    bias: float

    def decision(self, vectors: np.ndarray, features: sparse.csr_matrix | None) -> np.ndarray:
        """Decision values of rows (their unit vectors and sparse features)."""
        out = vectors @ self.dense + self.bias
        if self.sparse is not None and features is not None:
            out = out + features @ self.sparse
        return np.asarray(out, dtype=np.float32)


@dataclass
class Reason:
    """Why a paper was recommended: the saved papers it is closest to and the words they share."""

    closest: list[tuple[str, float]] = field(default_factory=list)  # (saved paper id, cosine)
    terms: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)  # author keys also on saved papers


@dataclass
class Recommendation:
    """One recommended paper with its score and reason."""

    paper_id: str
    score: float
    reason: Reason


def load_model_library() -> None:
    """Import scikit-learn now (1.5 s of CPU), as a server's warm-up does, not on a reader's first
    For-you page; the regression below imports it lazily so the CLI starts fast."""
    import sklearn.linear_model  # noqa: F401


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]
    if np.all(np.abs(norms - 1) < 1e-3):
        return vectors  # already unit length: no copy (the recommender's cache keeps them so)
    return vectors / np.maximum(norms, 1e-12)


def _zscore(values: np.ndarray) -> np.ndarray:
    std = float(values.std())
    return (values - values.mean()) / std if std > 1e-9 else values - values.mean()


def knn_scores(sims: np.ndarray, k: int) -> np.ndarray:
    """Mean of the top-k similarities of each candidate (rows) to the saved papers (columns)."""
    k = max(1, min(k, sims.shape[1]))
    if k == 1:
        return sims.max(axis=1)
    top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
    return top.mean(axis=1)


def _background(n: int, exclude: np.ndarray, limit: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pool = np.setdiff1d(np.arange(n), exclude, assume_unique=False)
    if len(pool) > limit:
        pool = rng.choice(pool, size=limit, replace=False)
    return pool


def author_scores(
    candidate_authors: Sequence[Sequence[str]],
    positive_authors: Sequence[Sequence[str]],
    ignore: Sequence[str] = (),
    normalised: bool = False,
) -> np.ndarray:
    """How strongly each candidate is by authors of the saved papers (rare names count more).

    A candidate scores the sum, over its authors, of how many saved papers they wrote times an
    inverse frequency of the name among the candidates, so a common name says less. `ignore`
    drops names (the offline evaluation drops the reader's own name). With `normalised`, names
    are already `author_key`s (the store keeps them so), which saves the per-request work.
    """
    key_of = (lambda a: a) if normalised else author_key
    skip = {author_key(a) for a in ignore}
    saved: dict[str, int] = {}
    for names in positive_authors:
        for key in {key_of(a) for a in names} - skip:
            saved[key] = saved.get(key, 0) + 1
    # Most candidates share no author: keep only the (row, names) that do.
    hits = []
    for row, names in enumerate(candidate_authors):
        shared = [k for k in map(key_of, names) if k in saved]
        if shared:
            hits.append((row, set(shared)))
    df: dict[str, int] = {}
    for _, names in hits:
        for key in names:
            df[key] = df.get(key, 0) + 1
    n = max(len(candidate_authors), 1)
    out = np.zeros(len(candidate_authors), dtype=np.float32)
    for row, names in hits:
        out[row] = sum(saved[a] * np.log(1 + n / (1 + df[a])) for a in names)
    return np.log1p(out)


def uses_model(n_positives: int, n_candidates: int, params: Params) -> bool:
    """Whether the linear model is learned, or the score is nearest neighbours alone."""
    enough = n_positives >= params.min_positives_for_model and n_candidates >= 10
    return enough and params.blend > 0


@lru_cache(maxsize=1)
def _word_hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    # arxiv-sanity-lite's tokens: 1-2-grams, English stop words, accents stripped.
    return HashingVectorizer(
        n_features=HASHED_COLUMNS,
        ngram_range=(1, 2),
        stop_words="english",
        strip_accents="unicode",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
    )


def _same(names):
    return names  # a paper's author keys are its tokens, whole


@lru_cache(maxsize=1)
def _name_hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=HASHED_COLUMNS, analyzer=_same, alternate_sign=False, norm=None,
        binary=True, dtype=np.float32,
    )  # fmt: skip


def paper_terms(texts: Sequence[str], names: Sequence[Sequence[str]]) -> Terms:
    """Hashed term counts of papers: `texts` (title + abstract) and `names` (author keys)."""
    if len(texts) != len(names):
        raise ValueError("ranking.recommend.paper_terms: one list of names per text")
    if not texts:  # the hashers cannot transform nothing
        from scipy import sparse

        empty = sparse.csr_matrix((0, HASHED_COLUMNS), dtype=np.float32)
        return Terms(empty, empty.copy())
    words = _word_hasher().transform(texts).tocsr()
    words.data = 1 + np.log(words.data)  # sublinear tf
    return Terms(words, _name_hasher().transform([list(n) for n in names]).tocsr())


def _idf(counts: sparse.csr_matrix, max_df: float) -> np.ndarray:
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
    idf[df > max(max_df * n, 1)] = 0  # too common in the window to tell papers apart
    return idf


def term_space(window: Terms, params: Params) -> TermSpace:
    """Idf of words and names over the candidate window (words on over `max_df` of it drop)."""
    return TermSpace(_idf(window.words, params.max_df), _idf(window.names, 1.0))


def _unit_rows(x: sparse.csr_matrix, scale: np.ndarray, weight: float) -> sparse.csr_matrix:
    # On the stored values directly: a 2^18 x 2^18 diagonal matrix product cost ~5 ms a call.
    x = x.copy()
    x.data *= scale[x.indices]
    x.eliminate_zeros()  # words too common in the window (idf 0): about half the stored values
    counts = np.diff(x.indptr)
    row = np.repeat(np.arange(x.shape[0]), counts)
    norms = np.sqrt(np.bincount(row, weights=x.data**2, minlength=x.shape[0]))
    x.data *= (weight / np.maximum(norms, 1e-12))[row].astype(np.float32)
    return x


def term_features(terms: Terms, space: TermSpace, params: Params) -> sparse.csr_matrix:
    """TF-IDF rows of papers in the window's space: words and names, each block unit length and
    weighted (`text_weight`, `name_weight`)."""
    from scipy import sparse

    blocks = [_unit_rows(terms.words, space.words_idf, params.text_weight)]
    if params.name_weight:
        blocks.append(_unit_rows(terms.names, space.names_idf, params.name_weight))
    return sparse.hstack(blocks, format="csr", dtype=np.float32)


def dense_scale(n_positives: int, params: Params) -> float:
    """The embedding's scale next to the unit-length TF-IDF blocks: `dense_scale`, raised to
    1/sqrt(saved papers) for a reader with few, whose words are too thin a sample to learn from
    (the embedding generalises from a handful of papers)."""
    floor = 1 / np.sqrt(max(n_positives, 1)) if params.few_saved_boost else 0.0
    return max(params.dense_scale, float(floor))


def _joint_rows(dense: np.ndarray, scale: float, rows: sparse.csr_matrix) -> sparse.csr_matrix:
    """[scale x dense | rows] as one float64 CSR matrix, built in place: what liblinear reads,
    without scipy's hstack and scikit-learn's float64 copy (a third of the fitting time)."""
    from scipy import sparse

    n, dim = dense.shape
    counts = np.diff(rows.indptr)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts + dim, out=indptr[1:])
    data = np.empty(indptr[-1], dtype=np.float64)
    indices = np.empty(indptr[-1], dtype=np.int32)
    at_dense = (indptr[:-1, None] + np.arange(dim)).ravel()
    data[at_dense] = dense.ravel() * scale
    indices[at_dense] = np.tile(np.arange(dim, dtype=np.int32), n)
    at_sparse = np.arange(rows.nnz) + (np.repeat(np.arange(n), counts) + 1) * dim
    data[at_sparse] = rows.data
    indices[at_sparse] = rows.indices + dim
    return sparse.csr_matrix((data, indices, indptr), shape=(n, dim + rows.shape[1]))


def fit_model(
    candidates: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    params: Params,
    exclude: np.ndarray | None = None,
    features: Features | None = None,
) -> LinearModel:
    """A linear SVM: positives vs explicit + sampled negatives, over the embedding (scaled by
    `dense_scale`) joined with the sparse `features` when given.

    Callers may keep the result while the reader's library is unchanged (no retraining per
    request).
    """
    from scipy import sparse

    exclude = np.asarray(exclude if exclude is not None else [], dtype=int)
    rows = _background(len(candidates), exclude, params.max_background, params.seed)
    n = len(positives) + len(negatives) + len(rows)
    y = np.r_[np.ones(len(positives)), np.zeros(n - len(positives))]
    # Balanced classes as arxiv-sanity's class_weight="balanced"; a rejection counts more.
    n_neg = len(rows) + params.neg_weight * len(negatives)
    half = (len(positives) + n_neg) / 2
    weight = np.r_[
        np.full(len(positives), half / max(len(positives), 1)),
        np.full(len(negatives), params.neg_weight * half / n_neg),
        np.full(len(rows), half / n_neg),
    ]
    # C is per MAX_BACKGROUND training rows (a mean loss): a small window or a test fixture of
    # 36 papers is regularised like a week of 2,000.
    c = params.c * params.max_background / n
    if features is None:  # the embedding alone, at full scale
        dense_rows = np.vstack([positives, negatives, candidates[rows]])
        return _svm(dense_rows, y, weight, c, candidates.shape[1])
    scale = dense_scale(len(positives), params)
    library = sparse.vstack([features.positives, features.negatives], format="csr")
    x = sparse.vstack(
        [
            _joint_rows(np.vstack([positives, negatives]), scale, library),
            _background_rows(candidates, features, rows, scale),
        ],
        format="csr",
    )
    model = _svm(x, y, weight, c, candidates.shape[1])
    model.dense *= scale
    return model


def _background_rows(
    candidates: np.ndarray, features: Features, rows: np.ndarray, scale: float
) -> sparse.csr_matrix:
    """The joint rows of the sampled candidates. A window within MAX_BACKGROUND is every
    candidate but the reader's own, so its joint matrix is built once per scale and shared by
    the readers of a batch (a digest run fits every reader against the same papers)."""
    if features.shared is None or len(candidates) > MAX_BACKGROUND:
        return _joint_rows(candidates[rows], scale, features.candidates[rows])
    every = features.shared.get(scale)
    if every is None:
        every = _joint_rows(candidates, scale, features.candidates)
        if len(features.shared) >= 4:  # scales differ by library size (dense_scale)
            features.shared.clear()
        features.shared[scale] = every
    return every[rows]


def _svm(x, y: np.ndarray, weight: np.ndarray, c: float, dim: int) -> LinearModel:
    """A liblinear linear SVM; the first `dim` columns are the embedding's."""
    from sklearn.svm import LinearSVC

    # The dual coordinate-descent solver: its cost follows the rows' non-zeros, not the 2^19
    # hashed columns (the primal solvers were 20x slower here).
    # tol 1e-2: 6 passes instead of 9, scores correlated 1.00000 with a 1e-6 fit.
    model = LinearSVC(C=c, dual=True, tol=1e-2, max_iter=2000)
    model.fit(x, y, sample_weight=weight)
    coef = model.coef_[0].astype(np.float32)
    sparse_part = coef[dim:] if x.shape[1] > dim else None
    return LinearModel(coef[:dim], sparse_part, float(model.intercept_[0]))


def score_candidates(
    candidates: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray | None = None,
    params: Params | None = None,
    exclude: np.ndarray | None = None,
    weights: LinearModel | None = None,
    authors: np.ndarray | None = None,
    features: Features | None = None,
    decision: np.ndarray | None = None,
) -> np.ndarray:
    """Score every candidate row for a reader (higher is better); vectors must be unit length.

    `exclude` lists candidate rows that are the reader's own saved papers, so they are not used
    as implicit negatives. `weights` is a model fitted earlier by `fit_model`. `authors` is
    `author_scores` of the candidates, added with `params.author_weight`. `features` are the
    sparse TF-IDF rows of candidates, positives and negatives (`term_features`); without them
    the linear model sees the embedding alone. `decision` is the fitted model's decision values
    on these candidates, when the caller kept them (a month of papers costs ~10-30 ms).
    """
    params = params or Params()
    negatives = negatives if negatives is not None else np.zeros((0, candidates.shape[1]), "f4")
    n = len(candidates)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    if len(positives) == 0:
        raise ValueError("ranking.recommend: a reader needs at least one saved paper or topic")
    regression = uses_model(len(positives), n, params)
    pre = np.zeros(n, dtype=np.float32)
    if regression:
        if decision is None:
            model = weights or fit_model(
                candidates, positives, negatives, params, exclude, features
            )
            decision = model.decision(candidates, features.candidates if features else None)
        pre += params.blend * _zscore(decision)
    if authors is not None and params.author_weight and float(authors.max(initial=0)) > 0:
        pre += params.author_weight * _zscore(authors)
    rows, sample = _knn_rows(pre, n, regression, params)
    sims = candidates[rows] @ positives.T
    knn = knn_scores(sims, params.knn_k)
    stats = knn[np.searchsorted(rows, sample)]
    spread = float(stats.std())
    knn_z = (knn - stats.mean()) / (spread if spread > 1e-9 else 1.0)
    share = (1 - params.blend) if regression else 1.0
    # Rows left out of the shortlist keep their order, below every shortlisted row's knn part.
    score = pre + share * float(knn_z.min(initial=0))
    score[rows] = pre[rows] + share * knn_z
    if len(negatives):
        near_neg = (candidates[rows] @ negatives.T).max(axis=1)
        # Push down what is closer to a rejected paper than to any saved one.
        score[rows] -= params.neg_penalty * np.maximum(near_neg - sims.max(axis=1), 0) * 10
    return score.astype(np.float32)


def _knn_rows(pre: np.ndarray, n: int, regression: bool, params: Params):
    """Rows whose nearest-neighbour score is computed, and the rows its z-score is taken over.

    Nearest neighbours cost n x saved-papers dot products. In a big window only rows that the
    cheap signals (regression, authors) put near the top can reach the top, so the score is
    computed for a shortlist, and its mean and spread on a random sample of all rows.
    """
    if not regression or n <= params.shortlist:
        every = np.arange(n)
        return every, every
    top = np.argpartition(-pre, params.shortlist)[: params.shortlist]
    sample = np.random.default_rng(params.seed).choice(n, size=params.stats_sample, replace=False)
    rows = np.union1d(top, sample)
    return rows, np.sort(sample)


_WORD = re.compile(r"[a-z][a-z0-9\-]{2,}")
_STOP_WORDS = """
about above after again against also among an and any approach are based been before being
between both but can could does doing during each few for from further has have here how
into its itself just method methods model models more most new not novel now off once only
other our out over own paper propose proposed same show shows should such than that the
their them then there these they this those through under until using very via was we were
what when where which while who whom why will with within without would yet results result
work task tasks data performance existing framework learning significantly state art
often however crucial first issues inherent capabilities suffer inputs outputs multiple
critical large across various challenging including address achieve achieves achieved key
leading remains remain limited significant effective effectively efficient improve improves
improved improving enable enables demonstrate demonstrates extensive experiments benchmark
benchmarks approaches problem problems study studies present presents introduce introduces
well high low level leverage leverages further make makes making provide provides given
different diverse specific furthermore moreover additionally code available github
"""
_STOP = frozenset(_STOP_WORDS.split())


def terms(text: str) -> list[str]:
    """Content words of a text (lower-cased, stop words dropped), in order of first use."""
    words = _WORD.findall(text.lower())
    return list(dict.fromkeys(w.strip("-") for w in words if w not in _STOP and len(w) > 3))


@lru_cache(maxsize=20_000)
def _term_tuple(text: str) -> tuple[str, ...]:
    # The same saved papers' texts come up for every recommendation (and every digest reader).
    return tuple(terms(text))


def shared_terms(text: str, others: Sequence[str], limit: int = 5) -> list[str]:
    """Words a recommended paper shares with the saved papers it is closest to."""
    mine = _term_tuple(text)
    theirs: set[str] = set()
    for other in others:
        theirs.update(_term_tuple(other))
    return [w for w in mine if w in theirs][:limit]


def own_rows(
    candidate_ids: Sequence[str], positive_ids: Sequence[str], index: dict[str, int] | None = None
) -> np.ndarray:
    """Rows of the candidates that are the reader's own saved papers (`index`: id -> row)."""
    index = index if index is not None else {pid: i for i, pid in enumerate(candidate_ids)}
    return np.array([index[p] for p in positive_ids if p in index], dtype=int)


def recommend(
    candidate_ids: Sequence[str],
    candidate_vectors: np.ndarray,
    positive_ids: Sequence[str],
    positive_vectors: np.ndarray,
    negative_vectors: np.ndarray | None = None,
    *,
    texts: Callable[[Sequence[str]], dict[str, str]] | None = None,
    limit: int = 20,
    hide: set[str] | None = None,
    params: Params | None = None,
    closest: int = 2,
    weights: LinearModel | None = None,
    authors: np.ndarray | None = None,
    authors_of: Callable[[Sequence[str]], dict[str, Sequence[str]]] | None = None,
    candidate_index: dict[str, int] | None = None,
    features: Features | None = None,
    decision: np.ndarray | None = None,
) -> list[Recommendation]:
    """Top `limit` candidates for a reader, each with the saved papers it is closest to.

    `hide` holds ids never to show (already saved, not interested). `texts` returns the text
    (title + abstract) of the given ids; it is asked once, for the shown papers and their closest
    saved papers, to name the shared terms in the reasons. `authors_of` returns author keys, to
    name the authors a shown paper shares with the saved ones.
    """
    hide = hide or set()
    cand = normalise_rows(candidate_vectors)
    pos = normalise_rows(positive_vectors)
    neg = None
    if negative_vectors is not None and len(negative_vectors):
        neg = normalise_rows(negative_vectors)
    own = own_rows(candidate_ids, positive_ids, candidate_index)
    scores = score_candidates(cand, pos, neg, params, own, weights, authors, features, decision)
    order = np.argsort(-scores)
    shown = list(islice((i for i in order if candidate_ids[i] not in hide), limit))
    if not shown:
        return []
    sims = cand[shown] @ pos.T
    nearest = [
        [(positive_ids[j], round(float(sims[row, j]), 3)) for j in np.argsort(-sims[row])[:closest]]
        for row in range(len(shown))
    ]
    wanted = [candidate_ids[i] for i in shown] + [pid for near in nearest for pid, _ in near]
    text = texts(list(dict.fromkeys(wanted))) if texts else {}
    names = authors_of([*positive_ids, *(candidate_ids[i] for i in shown)]) if authors_of else {}
    saved_names = {a for p in positive_ids for a in names.get(p, ())}
    out = []
    for row, i in enumerate(shown):
        pid = candidate_ids[i]
        words = shared_terms(text.get(pid, ""), [text.get(p, "") for p, _ in nearest[row]])
        people = [a for a in names.get(pid, ()) if a in saved_names]
        out.append(Recommendation(pid, float(scores[i]), Reason(nearest[row], words, people)))
    return out
