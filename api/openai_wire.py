"""OpenAI's Chat Completions wire format, so existing OpenAI clients can use POST /v1/chat/completions
unchanged: requests in, completions (or a server-sent event stream of chunks) and errors out."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from api.schemas.chat import CompletionsBody
from lakehouse_assets.core.llm.chat import ChatRequest, ChatResult, InvalidChatRequest, Message

OPENAI_PATHS = ("/v1/chat/completions",)
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def _text(content: str | list[dict[str, Any]] | None, i: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InvalidChatRequest(f"messages[{i}]: only text content parts are supported, not {part.get('type')!r}")
        parts.append(part["text"])
    return "\n".join(parts)


def to_chat_request(body: CompletionsBody) -> ChatRequest:
    messages = []
    for i, m in enumerate(body.messages):
        role = "system" if m.role == "developer" else m.role
        messages.append(Message(role, _text(m.content, i)))
    kind = (body.response_format or {}).get("type", "text")
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidChatRequest(f"response_format.type {kind!r} is not text, json_object or json_schema")
    return ChatRequest(
        tuple(messages),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        json_format=kind != "text",
    )


def _usage(r: ChatResult) -> dict[str, int]:
    return {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens, "total_tokens": r.total_tokens}


def completion(r: ChatResult) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": r.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": r.content},
                "finish_reason": r.finish_reason or "stop",
            }
        ],
        "usage": _usage(r),
        "provider": r.provider,
    }


def completion_chunks(r: ChatResult, include_usage: bool) -> Iterator[str]:
    """The finished completion as an event stream: a content chunk, a finish chunk, usage, [DONE]."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = r.model

    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n"

    yield event([{"index": 0, "delta": {"role": "assistant", "content": r.content}, "finish_reason": None}])
    yield event([{"index": 0, "delta": {}, "finish_reason": r.finish_reason or "stop"}])
    if include_usage:
        yield event([], usage=_usage(r))
    yield "data: [DONE]\n\n"


def openai_error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
