"""Query vectors of recurring phrases (digest topics), kept on disk between runs.

Topics rarely change, so a daily digest run embeds only the phrases it has not seen before. The
vectors are the search service's query vectors (`Embedder.embed_query`), so a topic is matched
with exactly the vector `/search` uses for the same words. A cache: deleting the file is harmless.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


class PhraseVectors:
    """Phrase (normalised query text) -> unit query vector, loaded from and saved to one file."""

    # Reading and writing are whole-file: fine for tens of thousands of phrases (15 MB at 20k).

    def __init__(self, path: Path, embed: Callable[[str], np.ndarray]) -> None:
        self.path, self.embed = path, embed
        self.vectors: dict[str, np.ndarray] = {}
        self._loaded = False

    def get(self, key: str) -> np.ndarray | None:
        """The vector of a phrase already known in memory (never reads the file)."""
        return self.vectors.get(key)

    def ensure(self, keys: Sequence[str]) -> None:
        """Make every key's vector known: read the file once, embed (and save) only new ones."""
        if not self._loaded:
            self._load()
        missing = list(dict.fromkeys(k for k in keys if k not in self.vectors))
        if missing:
            self.vectors.update((k, self.embed(k)) for k in missing)
            self._save()

    def _load(self) -> None:
        self._loaded = True
        try:
            with np.load(self.path, allow_pickle=False) as data:
                texts, matrix = data["texts"], data["vectors"]
        except (OSError, ValueError, KeyError):
            return
        if len(texts) == len(matrix):
            self.vectors.update(zip(texts.tolist(), matrix, strict=True))

    def _save(self) -> None:
        # One file replaced atomically, so concurrent workers never read half of a cache.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self.vectors)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            matrix = np.vstack([self.vectors[t] for t in texts]).astype(np.float32)
            np.savez(fh, texts=np.array(texts, dtype=str), vectors=matrix)
        os.replace(tmp, self.path)
