"""Asking a running Dagster webserver to materialize assets, through its GraphQL API: one run now (it starts
as soon as the run queue has room) or a backfill (the daemon picks it up on its next backfill tick, about
half a minute). Used by `lakehouse up` to start the demo's first materializations."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

_LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }"""
_LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""


def _graphql(ui_url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"{ui_url}/graphql", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        payload = json.load(r)
    if payload.get("errors"):  # the query itself was refused
        raise ValueError("; ".join(str(e.get("message", e)) for e in payload["errors"]))
    return payload["data"]


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _launch(ui_url: str, query: str, params: dict[str, Any], kind: str, what: str) -> dict[str, Any] | str:
    """The mutation's result, or a sentence saying why the `kind` (run, backfill) of `what` did not launch."""
    try:
        result = next(iter(_graphql(ui_url, query, {"params": params}).values()))
        if not isinstance(result, dict):
            raise TypeError(f"unexpected answer {result!r}")
    except (OSError, StopIteration, KeyError, TypeError, ValueError) as e:
        return f"could not launch the {kind}: {e}; materialize {what} from the UI"
    if result.get("__typename", "").endswith("Success"):
        return result
    return f"could not launch the {kind}: {result.get('message', result)}; materialize {what} from the UI"


def launch_run(
    ui_url: str, partition: str, assets: list[str], what: str, *, tags: dict[str, str], run_config: dict[str, Any]
) -> str:
    """Queue one run materializing `assets` for `partition`. Returns `run <id>` or why it failed."""
    params: dict[str, Any] = {
        "selector": {
            "repositoryLocationName": "lakehouse",
            "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": [a]} for a in assets],
        },
        "runConfigData": run_config,
        "executionMetadata": {"tags": _tags({**tags, "dagster/partition": partition})},
    }
    result = _launch(ui_url, _LAUNCH_RUN, params, "run", what)
    return result if isinstance(result, str) else f"run {result['run']['runId'][:8]}"


def launch_backfill(
    ui_url: str,
    partitions: list[str],
    assets: list[str],
    what: str,
    *,
    tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
) -> str:
    """A backfill of `assets` over `partitions`, its runs tagged with `tags` and run with `run_config`.
    Returns `backfill <id>` or why it failed."""
    params: dict[str, Any] = {
        "partitionNames": partitions,
        "assetSelection": [{"path": [a]} for a in assets],
        "fromFailure": False,
    }
    if tags:
        params["tags"] = _tags(tags)
    if run_config:
        params["runConfigData"] = run_config
    result = _launch(ui_url, _LAUNCH_BACKFILL, params, "backfill", what)
    return result if isinstance(result, str) else f"backfill {result['backfillId']}"
