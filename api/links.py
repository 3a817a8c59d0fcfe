"""OpenAPI links: which call a response leads to, and with which of its values (a created trace's uid is the
path of its GET). Clients and tools read them; schemathesis's stateful tests walk them."""

from __future__ import annotations

from typing import Any


def link(path: str, method: str, description: str, **parameters: str) -> dict[str, Any]:
    """A link to `method path`, its parameters taken by runtime expressions ("$response.body#/uid")."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "parameters": parameters, "description": description}


TRACE = "$response.body#/uid"
TRACE_LINKS = {
    "GetTrace": link("/v1/pathway/traces/{uid}", "get", "The stored trace.", uid=TRACE),
    "UpdateTrace": link("/v1/pathway/traces/{uid}", "put", "Replace its content.", uid=TRACE),
    "ReviseTrace": link("/v1/pathway/traces/{uid}/revise", "post", "A successor trace.", uid=TRACE),
    "RetireTrace": link("/v1/pathway/traces/{uid}/retire", "post", "Exclude it from search.", uid=TRACE),
    "TraceHistory": link("/v1/pathway/traces/{uid}/history", "get", "Its predecessors.", uid=TRACE),
}
INDEX = "$request.path.index"
INDEX_LINKS = {
    "AddVectors": link("/v1/vectors/{index}/add", "post", "Add vectors to the index.", index=INDEX),
    "SearchIndex": link("/v1/vectors/{index}/search", "post", "Search the index.", index=INDEX),
    "DeleteIndex": link("/v1/vectors/{index}", "delete", "Delete the index.", index=INDEX),
}
DATASET_LINKS = {
    "GetDataset": link("/v1/datasets/{name}", "get", "The dataset's manifest.", name="$request.query.name"),
}
