"""The downgrade gate: does a weak local model suffice for acting on a search's hits, or is the strong one
needed? Confident, consistent top hits mean the weak one can act; otherwise the reason says why not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakehouse_assets.core.retrieval.results import Hit


@dataclass(frozen=True)
class Downgrade:
    strong_needed: bool
    model: str | None
    reason: str


@dataclass(frozen=True)
class DowngradePolicy:
    weak_models: tuple[str, ...] = ()
    weak_model: str | None = None  # what to use when the gate says a weak model suffices
    confident: float = 0.55
    spread: float = 0.08
    min_hits: int = 3


def downgrade_gate(hits: Sequence[Hit], requested: str | None, policy: DowngradePolicy) -> Downgrade:
    """Does a weak local model suffice for acting on these hits, or is the strong one needed?"""
    if requested and requested in policy.weak_models:
        return Downgrade(False, requested, f"{requested} is in the weak-model list: the gate does not apply")
    if len(hits) < policy.min_hits:
        return Downgrade(True, requested, f"only {len(hits)} hits came back")
    first = [h.dense for h in hits[: policy.min_hits]]
    if None in first:
        return Downgrade(True, requested, "the index is still being built: top hits have no similarity yet")
    top, nth = max(first), min(first)  # type: ignore[type-var]
    if top < policy.confident:
        return Downgrade(True, requested, f"top score {top:.3f} is below the confidence bar {policy.confident}")
    if top - nth > policy.spread:
        return Downgrade(
            True, requested, f"top hits disagree: score falls {top - nth:.3f} over the first {policy.min_hits}"
        )
    return Downgrade(
        False,
        policy.weak_model or requested,
        f"top {policy.min_hits} hits are confident (>= {policy.confident}) and consistent (spread {top - nth:.3f})",
    )
