"""Activity for the demo: a short, deterministic session against the running API (SQL, search,
validation, playbooks, pathway traces, scenario ops, and an iterate call when a local model answers),
so the daily distillation and drift graph has a real day to work on the first time the UI opens.

Everything goes through the public HTTP API, exactly as an application would call it; the observer
middleware witnesses each call.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

SQL = [
    "SELECT role, count(*) AS n FROM workers GROUP BY role ORDER BY n DESC LIMIT 5",
    "SELECT state, avg(hourly_rate) AS rate FROM workers GROUP BY state ORDER BY rate DESC LIMIT 5",
    "SELECT worker_id, name, shift FROM workers WHERE availability = 'available' LIMIT 3",
    "SELECT * FROM no_such_table",  # a failed op is activity too
]


def _post(client: httpx.Client, path: str, body: dict[str, Any], counts: Counter[str]) -> httpx.Response:
    r = client.post(path, json=body)
    counts[f"{path} {r.status_code}"] += 1
    return r


def generate_activity(
    api_url: str, timeout: float = 120.0, client: httpx.Client | None = None, token: str | None = None
) -> Counter[str]:
    """Call the API like a staffing co-pilot would; returns calls per route and status."""
    if client is not None:
        return _activity(client)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=api_url, timeout=timeout, headers=headers) as own:
        return _activity(own)


def _activity(client: httpx.Client) -> Counter[str]:
    counts: Counter[str] = Counter()
    client.get("/v1/datasets")
    for sql in SQL:
        _post(client, "/v1/sql", {"sql": sql}, counts)
    rows = (
        client.post(
            "/v1/sql",
            json={
                "sql": "SELECT worker_id, shift FROM workers WHERE availability = 'available' "
                "ORDER BY worker_id LIMIT 2"
            },
        )
        .json()
        .get("rows", [])
    )
    ids = [str(r[0]) for r in rows]
    shift = rows[0][1] if rows else "day"
    fill = {
        "contract_id": "DEMO-1",
        "target_count": 2,
        "candidates": [{"worker_id": i, "reason": "available, right shift"} for i in ids[:1]],
    }
    _post(client, "/v1/validate", {"kind": "fill", "payload": fill, "context": {"shift": shift}}, counts)
    phantom = {**fill, "candidates": [{"worker_id": "999999999", "reason": "made up"}]}
    _post(client, "/v1/validate", {"kind": "fill", "payload": phantom}, counts)
    sms = {"to": "+13125550147", "body": "Shift confirmed: tomorrow 7am, dock 4."}
    _post(client, "/v1/validate", {"kind": "sms", "payload": sms}, counts)
    if ids:
        _post(
            client,
            "/v1/matrix/playbooks/record",
            {"query": "available forklift operator", "endorsed_ids": ids[:2], "contract_id": "DEMO-1"},
            counts,
        )
    _post(client, "/v1/matrix/search", {"query": "forklift operator with OSHA 10", "k": 5}, counts)
    trace = _post(
        client,
        "/v1/pathway/traces",
        {"content": {"text": "night-shift forklift fills: confirm OSHA 10 first"}, "tags": ["fill"]},
        counts,
    ).json()
    if "uid" in trace:
        _post(
            client,
            f"/v1/pathway/traces/{trace['uid']}/revise",
            {"content": {"text": "night-shift forklift fills: confirm OSHA 10 and a CDL"}},
            counts,
        )
    for step, ok in (
        ("scenario:find_candidates", True),
        ("scenario:validate_fill", True),
        ("scenario:send_sms", False),
    ):
        body = {"endpoint": step, "source": "scenario", "ok": ok, "latency_ms": 42.0}
        _post(client, "/v1/observer/event", {**body, "error": None if ok else "no reply"}, counts)
    providers = client.get("/v1/chat/providers").json().get("providers", [])
    if providers:
        # Only answers when a model server is running; a 502 is recorded like any other op.
        _post(
            client,
            "/v1/iterate",
            {"prompt": "Text a worker that tomorrow's shift starts at 7am.", "kind": "sms", "tier": "local_fast",
             "max_iterations": 2, "timeout": 30},
            counts,
        )  # fmt: skip
    return counts
