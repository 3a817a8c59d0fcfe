"""`static`: the instant tier. A model2vec static model distilled on this machine from the shipped
all-MiniLM-L6-v2 weights: one forward pass per vocabulary token, PCA, SIF weighting; a text's vector
is then the mean of its tokens' rows, with no transformer at query time (tens of thousands of texts
per second on one core, about 0.05 ms for a query).

The distillation runs once, at first use (about 25 s on two cores), from the local folder with
`local_files_only` and HF_HUB_OFFLINE (nothing is downloaded), and is cached in the models folder as
a saved StaticModel (`all-MiniLM-L6-v2-static-<key>/`), published atomically like the int8 export.
The model loads once per process. Its vectors live in another space than the transformer's (and
have STATIC_DIMENSION columns), so it reports its own model name, `all-MiniLM-L6-v2-static`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse_assets.core.vectors.embedder.artifacts import artifact_key, ensure_artifact, source_fingerprint
from lakehouse_assets.core.vectors.embedder.base import (
    LOCAL_MODEL,
    TOKEN_COUNT_CHUNK,
    Embedder,
    EmbeddingError,
    check_texts,
    local_model_path,
    offline,
    unit_rows,
)

STATIC_MODEL = f"{LOCAL_MODEL}-static"
STATIC_DIMENSION = 256
STATIC_MAX_TOKENS = 512  # model2vec's default truncation
# Everything that decides the vectors; a change is a new artifact folder (and, if it moves the
# vectors, should rename STATIC_MODEL).
STATIC_RECIPE: dict[str, Any] = {
    "distiller": "model2vec.distill_from_model",
    "pca_dims": STATIC_DIMENSION,
    "sif_coefficient": 1e-4,
    "quantize_to": "float32",
    "pooling": "mean",
    "vocabulary": "the model's own",
}

distills = 0  # static models distilled by this process (the tests read it)
_static_models: dict[str, Any] = {}
_static_lock = threading.Lock()
_tokenizer_locks: dict[int, threading.Lock] = {}


def build_static(source: str, folder: Path) -> dict[str, Any]:
    """Distill the model at `source` into a StaticModel saved in `folder`; returns the manifest's facts."""
    offline()
    import model2vec
    import model2vec.distill.inference as m2v_inference
    from model2vec.distill import distill_from_model
    from tqdm import tqdm
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    global distills
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModel.from_pretrained(source, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, use_fast=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    progress = m2v_inference.tqdm
    m2v_inference.tqdm = lambda *a, **k: tqdm(*a, **{**k, "disable": True})  # no bar in run logs
    try:
        static = distill_from_model(
            model=model,
            tokenizer=tokenizer,
            device="cpu",
            pca_dims=STATIC_RECIPE["pca_dims"],
            sif_coefficient=STATIC_RECIPE["sif_coefficient"],
            quantize_to=STATIC_RECIPE["quantize_to"],
            pooling=STATIC_RECIPE["pooling"],
        )
    finally:
        m2v_inference.tqdm = progress
    static.save_pretrained(folder)
    distills += 1
    return {
        "model": STATIC_MODEL,
        "source": source,
        "recipe": STATIC_RECIPE,
        "dimension": int(static.dim),
        "versions": {"model2vec": model2vec.__version__},
    }


def ensure_static(models_dir: str | os.PathLike[str], source: str | None = None) -> tuple[Path, bool]:
    """The static model's artifact folder, distilling it if absent; and whether this call distilled it."""
    source = source or local_model_path()
    key = artifact_key(source_fingerprint(source), STATIC_RECIPE)
    return ensure_artifact(models_dir, STATIC_MODEL, key, lambda folder: build_static(source, folder))


def _load_static(folder: Path) -> Any:
    """The StaticModel saved in `folder`, loaded once per process."""
    with _static_lock:
        if str(folder) not in _static_models:
            offline()
            from model2vec import StaticModel

            try:
                model = StaticModel.from_pretrained(folder, normalize=True, force_download=False)
            except Exception as e:  # model2vec raises what safetensors/json raise
                raise EmbeddingError(f"cannot load the static model at {folder}: {e}") from e
            if model.dim != STATIC_DIMENSION:
                raise EmbeddingError(f"the static model at {folder} is {model.dim}-d, expected {STATIC_DIMENSION}")
            _static_models[str(folder)] = model
        return _static_models[str(folder)]


def _tokenizer_lock(model: Any) -> threading.Lock:
    """The lock around one StaticModel's tokenizer. model2vec's encode() sets the tokenizer's truncation
    and resets it on every call; two threads mutating the one Rust tokenizer at once fail with
    "RuntimeError: Already borrowed"."""
    with _static_lock:
        return _tokenizer_locks.setdefault(id(model), threading.Lock())


def _unknown_vector(model: Any, dimension: int) -> np.ndarray:
    """The unit vector for a text with no known token: the [UNK] row when the model has one."""
    unk = getattr(model, "unk_token_id", None)
    row = np.asarray(model.embedding[unk], dtype=np.float32) if unk is not None else np.ones(dimension, np.float32)
    return unit_rows(row[None, :])[0]


class StaticEmbedder(Embedder):
    """The distilled static model of all-MiniLM-L6-v2 (model2vec), cached in `models_dir`."""

    def __init__(self, models_dir: str | os.PathLike[str], *, batch_size: int = 1024, path: str | None = None) -> None:
        self.model = STATIC_MODEL
        self.dimension = STATIC_DIMENSION
        self.models_dir = Path(models_dir)
        self.batch_size = batch_size
        self._source = path
        self._artifact: Path | None = None
        self._lock = threading.Lock()

    @property
    def artifact(self) -> Path:
        with self._lock:
            if self._artifact is None:
                self._artifact, _ = ensure_static(self.models_dir, self._source or local_model_path())
            return self._artifact

    def static_model(self) -> Any:
        return _load_static(self.artifact)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        check_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.static_model()
        lock = _tokenizer_lock(model)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            with lock:  # held per batch (about 70 ms for 1,024 texts): a query waits at most that long
                parts.append(
                    model.encode(
                        list(texts[start : start + self.batch_size]),
                        max_length=STATIC_MAX_TOKENS,
                        batch_size=self.batch_size,
                        normalize=True,
                        use_multiprocessing=False,  # joblib threads would fight the API's threads for two cores
                    )
                )
        vectors = unit_rows(np.concatenate(parts))
        empty = ~vectors.any(axis=1)
        if empty.any():  # every token unknown (emoji, another script): the unknown token's row, not zeros
            vectors[empty] = _unknown_vector(model, self.dimension)
        return vectors

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """The static tokenizer's tokens per text (no special tokens: the model averages only words)."""
        model = self.static_model()
        counts: list[int] = []
        for start in range(0, len(texts), TOKEN_COUNT_CHUNK):
            with _tokenizer_lock(model):
                ids = model.tokenize(list(texts[start : start + TOKEN_COUNT_CHUNK]))
            counts.extend(len(row) for row in ids)
        return counts
