from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.deps import ChatDep
from api.openai_wire import completion, completion_chunks, to_chat_request
from api.routing import Route
from api.schemas.chat import ChatBody, ChatReply, CompletionsBody, ProviderOut, ProvidersReply
from api.schemas.errors import ErrorBody
from api.slots import slot
from lakehouse_assets.core.llm.chat import ChatRequest, Message

router = APIRouter(prefix="/chat", tags=["chat"], route_class=Route)

_ERRORS = {
    400: {"model": ErrorBody, "description": "Missing model or messages, an unknown tier, a bad parameter."},
    404: {"model": ErrorBody, "description": "The model's provider is not configured (no key); names it."},
    429: {"model": ErrorBody, "description": "The upstream rate-limited the call; Retry-After says when to retry."},
    502: {
        "model": ErrorBody,
        "description": "The upstream refused, failed or is unreachable; upstream_status says how.",
    },
    504: {"model": ErrorBody, "description": "No answer before the deadline."},
}


@router.post("", responses=_ERRORS, dependencies=[slot("LLM calls")])
def chat(body: ChatBody, chat_router: ChatDep) -> ChatReply:
    """One chat completion from any configured model, routed by its name (or a tier's models in order).
    Transient failures are retried with backoff, then the next fallback is tried; the reply names the
    provider and model that answered."""
    request = ChatRequest(
        tuple(Message(m.role, m.content) for m in body.messages),
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        json_format=body.format == "json",
        timeout=body.timeout,
    )
    return ChatReply.of(chat_router.chat(request, model=body.model, tier=body.tier, fallbacks=body.fallbacks))


@router.get("/providers")
def providers(chat_router: ChatDep) -> ProvidersReply:
    """The registered providers (local Ollama and each provider whose key is set) and the model tiers."""
    return ProvidersReply(
        providers=[ProviderOut(name=p.name, protocol=p.protocol, base_url=p.base_url) for p in chat_router.providers()],
        unregistered=chat_router.missing_keys,
        tiers=chat_router.tiers,
    )


_COMPLETION_EXAMPLE = {
    "id": "chatcmpl-5f0c...",
    "object": "chat.completion",
    "created": 1795000000,
    "model": "qwen3.5:latest",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
    "provider": "ollama",
}


@router.post(
    "/completions",
    dependencies=[slot("LLM calls")],
    response_model=None,
    responses={
        200: {
            "description": "A chat.completion object, or with stream=true an event stream of chat.completion.chunk.",
            "content": {"application/json": {"example": _COMPLETION_EXAMPLE}, "text/event-stream": {}},
        },
        **{k: {"description": v["description"] + " (OpenAI error shape)"} for k, v in _ERRORS.items()},
    },
)
def completions(body: CompletionsBody, chat_router: ChatDep) -> Response:
    """OpenAI-compatible Chat Completions: point an OpenAI client's base_url at `<api>/v1`. Errors use
    OpenAI's error shape. With `stream: true` the finished completion is sent as one event stream."""
    result = chat_router.chat(to_chat_request(body), model=body.model)
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return StreamingResponse(completion_chunks(result, include_usage), media_type="text/event-stream")
    return JSONResponse(completion(result))
