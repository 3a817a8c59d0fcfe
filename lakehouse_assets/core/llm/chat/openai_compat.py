"""OpenAI-compatible Chat Completions (OpenRouter, OpenCode, Kimi): one shared HTTP client, a base
URL and key per provider."""

from __future__ import annotations

from typing import Any

import httpx

from lakehouse_assets.core.llm.chat.types import (
    ChatRequest,
    ProviderReply,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
    retry_after_seconds,
    shown_url,
)


def _upstream_message(response: httpx.Response) -> str:
    """The error text an OpenAI-compatible server put in its body (`{"error": {"message": ...}}`)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:500]
    if isinstance(error, str):
        return error[:500]
    return response.text.strip()[:500]


def completion_body(model: str, request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [m.to_json() for m in request.messages], "stream": False}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.json_format:
        body["response_format"] = {"type": "json_object"}
    return body


class OpenAICompatProvider:
    protocol = "openai"

    def __init__(self, name: str, base_url: str, api_key: str, http: httpx.Client) -> None:
        self.name, self.base_url, self._http = name, base_url.rstrip("/"), http
        self._headers = {"Authorization": f"Bearer {api_key}"}

    def chat(self, model: str, request: ChatRequest, timeout: float) -> ProviderReply:
        url = f"{self.base_url}/chat/completions"
        try:
            response = self._http.post(
                url, json=completion_body(model, request), headers=self._headers, timeout=timeout
            )
        except httpx.TimeoutException as e:
            raise UpstreamTimeout(f"{self.name} did not answer within {timeout:.1f}s") from e
        except httpx.HTTPError as e:
            raise UpstreamUnreachable(
                f"{self.name} is unreachable at {shown_url(self.base_url)}: {type(e).__name__}"
            ) from e
        if response.status_code == 429:
            raise UpstreamRateLimited(
                f"{self.name} rate-limited the request: {_upstream_message(response)}",
                retry_after_seconds(response.headers.get("retry-after")),
            )
        if response.status_code >= 400:
            raise UpstreamError(
                f"{self.name} answered {response.status_code}: {_upstream_message(response)}", response.status_code
            )
        try:
            data = response.json()
        except ValueError as e:
            raise UpstreamError(f"{self.name} sent a reply that is not JSON", response.status_code) from e
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices:
            # OpenRouter reports some upstream failures as a 200 carrying an error object.
            detail = _upstream_message(response) if isinstance(data, dict) and data.get("error") else "no choices"
            raise UpstreamError(f"{self.name} returned no completion: {detail}", response.status_code)
        choice = choices[0] if isinstance(choices[0], dict) else {}
        message = choice.get("message") or {}
        usage = data.get("usage") or {}
        return ProviderReply(
            content=message.get("content") or "",
            upstream_model=str(data.get("model") or model),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )

    def probe(self, timeout: float = 5.0) -> tuple[bool, str]:
        """Is the server there and does it take our key? (GET /models; nothing is generated.)"""
        try:
            r = self._http.get(f"{self.base_url}/models", headers=self._headers, timeout=timeout)
        except httpx.HTTPError as e:
            return False, f"{shown_url(self.base_url)} unreachable ({type(e).__name__})"
        if r.status_code in (401, 403):
            return False, f"{shown_url(self.base_url)} refuses the key ({r.status_code})"
        return r.status_code < 400, f"{shown_url(self.base_url)} answers {r.status_code}"

    def close(self) -> None:
        """The HTTP client is shared; its owner closes it."""
