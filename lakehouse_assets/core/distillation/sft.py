"""The fine-tuning export: accepted, high-scoring model outputs as chat-format examples, behind a
contamination firewall.

No example whose prompt matches an item of the held-out evaluation set may be exported: an exact
match after normalising case and whitespace, or a near-duplicate whose embedding's cosine similarity
reaches the threshold. Training on the evaluation set would make every later evaluation a lie.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from lakehouse_assets.core.llm.iterate import KIND_INSTRUCTIONS
from lakehouse_assets.core.vectors.embedder import unit_rows

SFT_SOURCES = frozenset({"iterate", "replay"})
SFT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("evidence_id", pa.string()),
        ("source", pa.string()),
        ("model", pa.string()),
        ("score", pa.float64()),
        ("input_hash", pa.string()),
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("messages_json", pa.string()),
    ]
)
_SPACE = re.compile(r"\s+")
Embed = Callable[[list[str]], np.ndarray]


def normalize(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def input_hash(text: str) -> str:
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Contamination:
    reason: str  # exact | near_duplicate
    holdout_index: int
    similarity: float


class Firewall:
    """Matches prompts against the held-out set, exactly (normalised hash) and by embedding."""

    def __init__(self, holdout: Sequence[str], embed: Embed | None, threshold: float) -> None:
        self.holdout = list(holdout)
        self.threshold = threshold
        self._embed = embed
        self._hashes = {input_hash(t): i for i, t in enumerate(self.holdout)}
        self._vectors = unit_rows(embed(self.holdout)) if embed is not None and self.holdout else None

    def check(self, prompts: Sequence[str]) -> list[Contamination | None]:
        found: list[Contamination | None] = [None] * len(prompts)
        rest = []
        for i, p in enumerate(prompts):
            j = self._hashes.get(input_hash(p))
            if j is not None:
                found[i] = Contamination("exact", j, 1.0)
            else:
                rest.append(i)
        if rest and self._vectors is not None and self._embed is not None:
            sims = unit_rows(self._embed([prompts[i] for i in rest])) @ self._vectors.T
            for row, i in enumerate(rest):
                j = int(np.argmax(sims[row]))
                if sims[row, j] >= self.threshold:
                    found[i] = Contamination("near_duplicate", j, round(float(sims[row, j]), 4))
        return found


@dataclass(frozen=True)
class Example:
    row: dict[str, Any]  # an SFT_SCHEMA row

    @property
    def prompt(self) -> str:
        return self.row["prompt"]

    def chat_json(self) -> str:
        """One line of the chat-format JSONL export."""
        return json.dumps(
            {
                "messages": json.loads(self.row["messages_json"]),
                "evidence_id": self.row["evidence_id"],
                "score": self.row["score"],
                "model": self.row["model"],
            },
            sort_keys=True,
            ensure_ascii=False,
        )


def candidates(scored: pa.Table, day: str, min_score: float) -> list[Example]:
    """Accepted model outputs scoring at least `min_score`, as chat examples (in evidence order)."""
    out = []
    for r in scored.to_pylist():
        if r["source"] not in SFT_SOURCES or not r["ok"] or r["score"] < min_score:
            continue
        task_input, output = json.loads(r["input"]), json.loads(r["output"])
        prompt, value = task_input.get("prompt"), output.get("value")
        if not isinstance(prompt, str) or not prompt.strip() or value is None:
            continue
        completion = json.dumps(value, ensure_ascii=False)
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
        system = KIND_INSTRUCTIONS.get(task_input.get("kind", ""))
        if system:
            messages.insert(0, {"role": "system", "content": system})
        out.append(
            Example(
                {
                    "day": day,
                    "evidence_id": r["evidence_id"],
                    "source": r["source"],
                    "model": r["model"],
                    "score": r["score"],
                    "input_hash": input_hash(prompt),
                    "prompt": prompt,
                    "completion": completion,
                    "messages_json": json.dumps(messages, ensure_ascii=False),
                }
            )
        )
    return out


def export_table(examples: Sequence[Example]) -> pa.Table:
    return pa.Table.from_pylist([e.row for e in examples], schema=SFT_SCHEMA)


def export_jsonl(examples: Sequence[Example]) -> bytes:
    return "".join(e.chat_json() + "\n" for e in examples).encode("utf-8")


def sft_export_key(day: str) -> str:
    return f"exports/sft/{day}.jsonl"
