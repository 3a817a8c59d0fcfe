"""`lakehouse mcp`: an MCP server (stdio, the official `mcp` SDK) that gives agents the lakehouse's
datasets, SQL, embeddings, search and validation as tools.

It is a client of the HTTP API (URL and token configurable), so an agent gets exactly what an
application gets, with the same limits and auth. An API error becomes a tool error whose message
names the problem; a proposal that fails validation is a normal result (`ok: false` and the tagged
error), because that is an answer the agent acts on.
"""

from __future__ import annotations

import os
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

DEFAULT_API_URL = "http://127.0.0.1:8000"


class LakehouseApi:
    """The few HTTP calls the tools make."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, ok: tuple[int, ...] = ()) -> Any:
        try:
            r = self._http.request(method, path, json=body)
        except httpx.HTTPError as e:
            raise ToolError(f"the lakehouse API at {self.base_url} is unreachable: {type(e).__name__}: {e}") from e
        if r.status_code < 400 or r.status_code in ok:
            return r.json()
        try:
            err = r.json()
            detail = f"{err.get('error', 'error')}: {err.get('message', r.text)}"
        except ValueError:
            detail = r.text[:500]
        raise ToolError(f"HTTP {r.status_code} {detail}")

    def close(self) -> None:
        self._http.close()


def segment(value: str, what: str) -> str:
    """`value` as one path segment: escaped, so a name an agent was talked into ("../sql", "a/b?x=") stays a
    name and cannot reach another route (httpx resolves dot segments before sending)."""
    if value in ("", ".", ".."):
        raise ToolError(f"{what} {value!r} is not a name")
    return quote(value, safe="")


def build_server(api: LakehouseApi) -> MCPServer:
    server = MCPServer(
        "lakehouse",
        instructions="Staffing datasets, SQL, semantic search over workers and playbooks, and validators for "
        "what you propose (a fill is checked against the real roster: never propose a worker it rejects).",
    )

    @server.tool()
    def list_datasets() -> list[dict[str, Any]]:
        """The catalog's datasets: name, live version, row count and columns."""
        return [
            {
                "name": m["name"],
                "version": m["version"],
                "row_count": m["row_count"],
                "columns": [f"{c['name']} {c['type']}" for c in m["schema"]],
            }
            for m in api.call("GET", "/v1/datasets")["datasets"]
        ]

    @server.tool()
    def get_manifest(name: Annotated[str, Field(description="Dataset name, e.g. workers")]) -> dict[str, Any]:
        """A dataset's manifest: id, schema, fingerprint, live object and version history."""
        return api.call("GET", f"/v1/datasets/{segment(name, 'dataset')}")

    @server.tool()
    def query_sql(
        sql: Annotated[str, Field(description="One read-only SELECT over the datasets (each is a table)")],
        max_rows: Annotated[int, Field(ge=1, le=10_000, description="Rows returned at most")] = 100,
    ) -> dict[str, Any]:
        """Run SQL on DuckDB over the catalog. `truncated` says whether rows beyond max_rows were cut."""
        return api.call("POST", "/v1/sql", {"sql": sql, "limit": max_rows})

    @server.tool()
    def embed_text(
        texts: Annotated[list[str], Field(min_length=1, max_length=256, description="Texts to embed")],
    ) -> dict[str, Any]:
        """Embedding vectors of the texts (the server's model; unit length, so dot product is cosine)."""
        out = api.call("POST", "/v1/embed", {"texts": texts})
        return {"model": out["model"], "dimension": out["dimension"], "vectors": out["vectors"]}

    @server.tool()
    def search_vectors(
        index: Annotated[str, Field(description="Vector index, e.g. corpus_workers")],
        text: Annotated[str, Field(min_length=1, description="Query text")],
        k: Annotated[int, Field(ge=1, le=100)] = 10,
        filter: Annotated[dict[str, Any] | None, Field(description='Metadata filter, e.g. {"state": "IL"}')] = None,
    ) -> dict[str, Any]:
        """Nearest neighbours of the text in one index, optionally filtered by metadata."""
        body = {"text": text, "k": k, "filter": filter}
        return api.call("POST", f"/v1/vectors/{segment(index, 'index')}/search", body)

    @server.tool()
    def matrix_search(
        query: Annotated[str, Field(min_length=1, description="What you are looking for, in words")],
        k: Annotated[int, Field(ge=1, le=100)] = 10,
        filter: Annotated[dict[str, Any] | None, Field(description='e.g. {"state": "OH", "shift": "night"}')] = None,
        exclude_ids: Annotated[list[str] | None, Field(description="Workers to leave out")] = None,
        use_playbook: Annotated[bool, Field(description="Boost workers endorsed for similar past queries")] = False,
        pad: Annotated[bool, Field(description="Fill up to k with near misses, each naming what it breaks")] = False,
        parse_only: Annotated[bool, Field(description="Only show how the query is read as constraints")] = False,
    ) -> dict[str, Any]:
        """Rank workers (and past playbooks) for a staffing query in plain words ("welder in Ohio with 10+
        years, not on nights"): its constraints are applied exactly and shown in `parsed`; filtered,
        deduplicated, explained."""
        body = {
            "query": query,
            "k": k,
            "filter": filter,
            "exclude_ids": exclude_ids or [],
            "use_playbook": use_playbook,
            "pad": pad,
            "parse_only": parse_only,
        }
        return api.call("POST", "/v1/matrix/search", body)

    @server.tool()
    def validate(
        kind: Annotated[str, Field(description="fill, email, sms or playbook")],
        payload: Annotated[dict[str, Any], Field(description="The proposal to check")],
        context: Annotated[dict[str, Any] | None, Field(description='e.g. {"shift": "night"} for a fill')] = None,
    ) -> dict[str, Any]:
        """Check a proposal before acting on it. Returns {"ok": true, ...} or {"ok": false, "error": <tagged>}."""
        out = api.call("POST", "/v1/validate", {"kind": kind, "payload": payload, "context": context}, ok=(422,))
        return out if out.get("ok") else {"ok": False, "error": out}

    return server


def run(api_url: str | None = None, token: str | None = None) -> None:
    api = LakehouseApi(
        api_url or os.environ.get("LAKEHOUSE_MCP_API_URL") or DEFAULT_API_URL,
        token or os.environ.get("LAKEHOUSE_API_TOKEN") or None,
    )
    try:
        build_server(api).run("stdio")
    finally:
        api.close()
