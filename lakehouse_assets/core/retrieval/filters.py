"""The filter language: `{field: value}` or `{field: {op: value}}` over a corpus's metadata and facets, as
Chroma `where` clauses (for the index) and as constraints (for a facet frame, exact in memory)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from lakehouse_assets.core.retrieval.corpora import CorpusSpec
from lakehouse_assets.core.retrieval.exceptions import SearchError
from lakehouse_assets.core.retrieval.facet_frame import FacetFrame
from lakehouse_assets.core.retrieval.query_parse import Constraint

_RANGE_OPS = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_LIST_OPS = {"in": "$in", "nin": "$nin"}
_EQ_OPS = {"eq": "$eq", "ne": "$ne", "contains": "$contains", "not_contains": "$not_contains"}
_SCALARS = (str, int, float, bool)


def filter_clauses(flt: Mapping[str, Any] | None, fields: Collection[str], *, scope: str) -> list[dict[str, Any]]:
    """The filter language as Chroma `where` clauses over the metadata `fields` of `scope` (e.g. "index 'x'").

    `{field: value}` is equality; `{field: {op: value}}` takes eq/ne/contains/not_contains (a scalar),
    gt/gte/lt/lte (a number) and in/nin (a non-empty list of scalars of one type). Raises SearchError
    naming the field or operator.
    """
    clauses: list[dict[str, Any]] = []
    for name, cond in (flt or {}).items():
        if name not in fields:
            raise SearchError(f"unknown filter field {name!r} for {scope}; known: {', '.join(fields) or 'none'}")
        if not isinstance(cond, Mapping):
            if not isinstance(cond, _SCALARS):
                raise SearchError(f'filter {name!r}: give a value, or an object like {{"gte": 10}} or {{"in": [..]}}')
            clauses.append({name: {"$eq": cond}})
            continue
        if not cond:
            raise SearchError(f"filter {name!r} is an empty object")
        for op, value in cond.items():
            if op in _RANGE_OPS:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise SearchError(f"filter {name!r}: {op} needs a number, not {value!r}")
                clauses.append({name: {_RANGE_OPS[op]: value}})
            elif op in _LIST_OPS:
                if not isinstance(value, list) or not value:
                    raise SearchError(f"filter {name!r}: {op} needs a non-empty list")
                if not all(isinstance(v, _SCALARS) for v in value) or len({type(v) for v in value}) > 1:
                    raise SearchError(f"filter {name!r}: {op} needs values of one type (all text, integers, ...)")
                clauses.append({name: {_LIST_OPS[op]: value}})
            elif op in _EQ_OPS:
                if not isinstance(value, _SCALARS):
                    raise SearchError(f"filter {name!r}: {op} needs a text, number or boolean, not {value!r}")
                clauses.append({name: {_EQ_OPS[op]: value}})
            else:
                known = ", ".join([*_EQ_OPS, *_RANGE_OPS, *_LIST_OPS])
                raise SearchError(f"filter {name!r}: unknown operator {op!r}; use one of {known}")
    return clauses


def filter_fields(spec: CorpusSpec) -> set[str]:
    """What a filter may name on this corpus: its index metadata and its facets."""
    return set(spec.metadata) | {f.field for f in spec.facets}


def translate_filter(flt: Mapping[str, Any] | None, spec: CorpusSpec) -> list[dict[str, Any]]:
    """The filter as Chroma `where` clauses for one corpus. Raises SearchError naming the problem."""
    return filter_clauses(flt, spec.metadata, scope=f"corpus {spec.name!r}")


def chroma_where(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Clauses from filter_clauses() as one Chroma `where` (None when there are none)."""
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def filter_constraints(flt: Mapping[str, Any] | None, frame: FacetFrame) -> list[Constraint]:
    """Explicit filters on facet fields as constraints (source "explicit"); other fields are left to the index."""
    out: list[Constraint] = []
    for name, cond in (flt or {}).items():
        if frame.vocab.facet(name) is None:
            continue
        items = cond.items() if isinstance(cond, Mapping) else [("eq", cond)]
        for op, value in items:
            out.append(Constraint(name, op, value, f"filter {name}", source="explicit"))
    return out
