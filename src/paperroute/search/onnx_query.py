"""Query embeddings through ONNX Runtime: 3x faster than torch for one short text.

A search embeds one short query per request, where torch's per-call overhead dominates the
arithmetic: measured on 2 cores (bench/embed.py variants), MiniLM took p50 12.6 / p95 15.7 ms
per query in torch (fp32, one thread) and 4.8 / 7.1 ms in ONNX Runtime, with identical vectors.
Batches of abstracts stay on torch, which is faster there with bf16 (docs/search.md).

The model is exported from the loaded sentence-transformers model on first use (about a second,
offline) into the data folder's cache, keyed by model, library versions and model files, so
nothing is downloaded and no weights ship with paperroute. Later processes load only the saved
tokenizer and the ONNX graph, never torch (1,846 MiB serving RSS at 1M papers against 2,021).
Only the common layout (a transformer, mean pooling, optional normalisation) is exported; any
other model keeps using torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def supported(model: Any) -> bool:
    """True when a SentenceTransformer is transformer -> mean pooling [-> normalise]."""
    names = [type(m).__name__ for m in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return False
    return getattr(model[1], "pooling_mode", None) == "mean" or bool(
        getattr(model[1], "pooling_mode_mean_tokens", False)
    )


def _fingerprint(name: str, model_dir: str) -> str:
    """Key of an export: the model, its files (when local) and the libraries that made it."""
    digest = hashlib.sha256(name.encode())
    for package in ("torch", "transformers", "onnxruntime"):
        digest.update(f"|{package}={_version(package)}".encode())
    root = Path(model_dir)
    if root.is_dir():  # a changed model file means a new export
        for path in sorted(root.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(
                    f"|{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
                )
    return digest.hexdigest()[:16]


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "-"


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread: requests already run side by side, and a short query gains nothing from
    # splitting its small matrix products.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export(model: Any, path: Path) -> None:
    """Write the transformer plus mean pooling and normalisation as one ONNX graph."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    wrapper = MeanPooled(model[0].auto_model).eval()
    sample = model.tokenizer(["a query"], return_tensors="pt")
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    # The tracer warns about Python conditionals in the model code that do not matter for
    # this export (checked: vectors identical to torch's); keep them out of the server log.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (sample["input_ids"], sample["attention_mask"]),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, and it is offline
        )
    tmp.replace(path)  # atomic: a concurrent process sees either nothing or a whole file


class OnnxQueryEncoder:
    """Embeds one query at a time with ONNX Runtime on a single thread."""

    def __init__(self, session: Any, tokenizer: Any, max_length: int) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def from_cache(cls, name: str, model_dir: str, cache_dir: Path) -> OnnxQueryEncoder | None:
        """The encoder from an earlier export, without loading torch or the model (a search
        process then holds only the tokenizer and the ONNX graph: ~400 MB less memory)."""
        paths = _paths(name, model_dir, cache_dir)
        if not paths[0].exists() or not paths[1].exists():
            return None
        try:
            from transformers import AutoTokenizer

            sidecar = json.loads(paths[1].read_text())
            tokenizer = AutoTokenizer.from_pretrained(sidecar["tokenizer"])
            return cls(_session(paths[0]), tokenizer, int(sidecar["max_length"]))
        except Exception as exc:  # fall back to loading the model (and exporting again)
            log.warning("cached ONNX query encoder unusable (%s)", exc)
            return None

    @classmethod
    def load(
        cls, model: Any, name: str, model_dir: str, cache_dir: Path
    ) -> OnnxQueryEncoder | None:
        """The encoder for a loaded model, exporting it once; None when it cannot be used."""
        if not supported(model):
            return None
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            path, sidecar = _paths(name, model_dir, cache_dir)
            if not path.exists():
                log.info("exporting %s to ONNX for fast query embeddings: %s", name, path)
                _export(model, path)
                _drop_stale_exports(path)
            max_length = int(model.max_seq_length or 256)
            tokenizer_dir = Path(cache_dir) / f"{path.stem}-tokenizer"
            model.tokenizer.save_pretrained(str(tokenizer_dir))
            info = {"model": name, "tokenizer": str(tokenizer_dir), "max_length": max_length}
            sidecar.write_text(json.dumps(info))
            session = _session(path)
        except Exception as exc:  # any failure leaves queries on torch, never breaks search
            log.warning("ONNX query embeddings unavailable (%s); using torch", exc)
            return None
        return cls(session, model.tokenizer, max_length)

    def encode(self, text: str) -> np.ndarray:
        """One unit-length query vector (float32)."""
        enc = self.tokenizer(
            [text], return_tensors="np", truncation=True, max_length=self.max_length
        )
        feeds = {
            "input_ids": enc["input_ids"].astype(np.int64),
            "attention_mask": enc["attention_mask"].astype(np.int64),
        }
        return self.session.run(None, feeds)[0][0].astype(np.float32)


def _drop_stale_exports(current: Path) -> None:
    """Remove this model's exports for older library versions or model files (~90 MB each)."""
    slug, fingerprint = current.stem.rsplit("-", 1)
    for old in current.parent.glob(f"{slug}-*"):
        rest = old.name[len(slug) + 1 :]  # "<fingerprint>.onnx", ".json" or "-tokenizer"
        own_kind = rest[16:] in (".onnx", ".json", "-tokenizer")
        if not own_kind or rest[:16] == fingerprint:
            continue  # another model's file, or this export's own
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def _paths(name: str, model_dir: str, cache_dir: Path) -> tuple[Path, Path]:
    """The export of a model and its sidecar (tokenizer folder, maximum length)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-60:]
    path = Path(cache_dir) / f"{slug}-{_fingerprint(name, model_dir)}.onnx"
    return path, path.with_suffix(".json")


class LazyOnnxQueryEncoder:
    """Builds the encoder on first use, once per process, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._encoder: OnnxQueryEncoder | None = None

    def get(
        self, load_model: Callable[[], Any], name: str, model_dir: str, cache_dir: Path
    ) -> OnnxQueryEncoder | None:
        """The encoder (from the cache when possible, else exported from the model that
        `load_model` returns), or None when the model must stay on torch."""
        if not self._done:
            with self._lock:
                if not self._done:
                    self._encoder = OnnxQueryEncoder.from_cache(name, model_dir, cache_dir)
                    if self._encoder is None:
                        self._encoder = OnnxQueryEncoder.load(
                            load_model(), name, model_dir, cache_dir
                        )
                    self._done = True
        return self._encoder
