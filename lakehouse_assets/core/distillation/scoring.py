"""The evidence scorer: a deterministic rubric, so a score means the same thing every day.

    start        1.0 if the verdict is a success (ok, accepted, success), 0.5 if partial, else 0.0
    retries      -0.15 for each retry the task needed (a first-shot answer keeps everything)
    grounding    a fill whose workers are not all in the roster scores 0, whatever else it did
    latency      -0.05 above 2 s, -0.10 above 10 s
    token cost   -0.05 above 2,000 tokens, -0.10 above 8,000
    the score is clamped to [0, 1]; labels: gold >= 0.8, silver >= 0.5, bronze > 0, reject = 0

Every deduction is named in `reasons`, so a label can be explained from the row alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lakehouse_assets.core.distillation.evidence import EVIDENCE_FIELDS, OK_VERDICTS

RETRY_PENALTY = 0.15
LABELS = (("gold", 0.8), ("silver", 0.5))

SCORED_SCHEMA = pa.schema([*EVIDENCE_FIELDS, ("score", pa.float64()), ("label", pa.string()), ("reasons", pa.string())])


@dataclass(frozen=True)
class Score:
    score: float
    label: str
    reasons: tuple[str, ...]


def score_record(r: dict[str, Any]) -> Score:
    verdict = r.get("verdict")
    reasons: list[str] = []
    if verdict in OK_VERDICTS:
        score = 1.0
    elif verdict == "partial":
        score = 0.5
        reasons.append("partial outcome")
    else:
        score = 0.0
        reasons.append(f"verdict {verdict}")
    retries = int(r.get("retries") or 0)
    if retries:
        score -= RETRY_PENALTY * retries
        reasons.append(f"{retries} retries")
    if r.get("grounded") is False:
        score = 0.0
        reasons.append("not grounded in the roster")
    latency = r.get("latency_ms")
    if latency is not None and latency > 2_000:
        score -= 0.10 if latency > 10_000 else 0.05
        reasons.append(f"slow ({latency:.0f} ms)")
    tokens = int(r.get("tokens") or 0)
    if tokens > 2_000:
        score -= 0.10 if tokens > 8_000 else 0.05
        reasons.append(f"costly ({tokens} tokens)")
    score = round(min(1.0, max(0.0, score)), 4)
    label = next((name for name, floor in LABELS if score >= floor), "bronze" if score > 0 else "reject")
    return Score(score, label, tuple(reasons))


def score_table(evidence: pa.Table) -> pa.Table:
    """The evidence rows with score, label and reasons added (same order)."""
    rows = evidence.to_pylist()
    for r in rows:
        s = score_record(r)
        r.update(score=s.score, label=s.label, reasons="; ".join(s.reasons))
    return pa.Table.from_pylist(rows, schema=SCORED_SCHEMA)
