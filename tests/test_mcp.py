"""`lakehouse mcp` driven by the MCP SDK's own client over stdio, against a real API on loopback."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.csv as pacsv
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from api.main import create_app
from api.settings import ApiSettings
from lakehouse_assets.core.sample.generate import generate_workers
from tests.live_server import serve

TOKEN = "mcp-test-token-0042"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("mcp") / "lake"
    settings = ApiSettings(home=home, report_to_dagster=False, warm_embedder=False, api_token=TOKEN, _env_file=None)
    csv = io.BytesIO()
    pacsv.write_csv(generate_workers(1000, seed=3), csv)
    with serve(create_app(settings)) as url:
        r = httpx.post(
            f"{url}/v1/ingest?name=workers",
            content=csv.getvalue(),
            headers={"content-type": "text/csv", "Authorization": f"Bearer {TOKEN}"},
        )
        assert r.status_code == 201, r.text
        yield url


def run_session(api_url: str, token: str, calls: list[tuple[str, dict]]) -> tuple[list, list]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lakehouse_assets.cli", "mcp", "--api-url", api_url],
        env={"LAKEHOUSE_API_TOKEN": token},
        cwd=str(Path(__file__).resolve().parents[1]),
    )

    async def go() -> tuple[list, list]:
        async with Client(params) as client:
            tools = (await client.list_tools()).tools
            results = [await client.call_tool(name, args) for name, args in calls]
            return tools, results

    return asyncio.run(go())


def payload(result) -> object:
    """The tool's structured result (lists come wrapped as {"result": [...]})."""
    sc = result.structured_content
    return sc["result"] if set(sc) == {"result"} else sc


def test_tools_over_stdio(api_url):
    tools, results = run_session(
        api_url,
        TOKEN,
        [
            ("list_datasets", {}),
            ("get_manifest", {"name": "workers"}),
            ("query_sql", {"sql": "SELECT worker_id FROM workers ORDER BY worker_id", "max_rows": 3}),
            ("validate", {"kind": "sms", "payload": {"to": "+13125550147", "body": "Shift at 7am."}}),
            ("validate", {"kind": "fill", "payload": {"contract_id": "C", "target_count": 1,
                                                      "candidates": [{"worker_id": "99999999", "reason": "x"}]}}),
            ("get_manifest", {"name": "nope"}),
            ("query_sql", {"sql": "DROP TABLE workers"}),
            ("query_sql", {"sql": "SELECT 1", "max_rows": 0}),
        ],
    )  # fmt: skip
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {
        "list_datasets", "get_manifest", "query_sql", "embed_text", "search_vectors", "matrix_search", "validate",
    }  # fmt: skip
    assert by_name["query_sql"].input_schema["properties"]["max_rows"]["maximum"] == 10_000
    assert "sql" in by_name["query_sql"].input_schema["required"]

    datasets, manifest, sql, sms, phantom, missing, drop, bad_limit = results
    assert [d["name"] for d in payload(datasets)] == ["workers"]
    assert json.loads(datasets.content[0].text)["name"] == "workers"  # and as text for the model
    assert payload(manifest)["row_count"] == 1000
    rows = payload(sql)
    assert rows["rows"] == [[1], [2], [3]] and rows["truncated"] is True
    assert payload(sms)["ok"] is True
    assert payload(phantom) == {
        "ok": False,
        "error": {"Consistency": {"reason": "worker 99999999 is not in the roster"}},
    }
    assert missing.is_error and "404" in missing.content[0].text and "nope" in missing.content[0].text
    assert drop.is_error and "400" in drop.content[0].text
    assert bad_limit.is_error  # the schema's minimum is enforced


def test_a_wrong_token_is_a_clear_tool_error(api_url):
    _, [result] = run_session(api_url, "wrong-token", [("list_datasets", {})])
    assert result.is_error and "401" in result.content[0].text and "invalid bearer token" in result.content[0].text


def test_names_an_agent_passes_stay_names(api_url):
    """Before: `name`/`index` went into the URL unescaped and httpx resolved the dot segments, so a
    prompt-injected agent asking for dataset "../../sql" reached GET /v1/sql (405), and index "../matrix"
    reached POST /v1/matrix/search."""
    _, results = run_session(
        api_url,
        TOKEN,
        [
            ("get_manifest", {"name": "../../sql"}),
            ("get_manifest", {"name": "workers/../../sql"}),
            ("search_vectors", {"index": "../matrix", "text": "welder"}),
            ("get_manifest", {"name": ".."}),
        ],
    )
    texts = [r.content[0].text for r in results]
    assert all(r.is_error for r in results), texts
    for text in texts[:3]:
        assert "405" not in text and "query" not in text and ("404" in text or "400" in text), text
    assert "'..' is not a name" in texts[3]
