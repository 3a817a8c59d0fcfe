"""Local Ollama and Ollama Cloud, through the official `ollama` client (`/api/chat`).

Thinking is off by default: a low-budget caller (a judge at max_tokens=10) gets a direct answer
instead of an empty reply cut off while the model reasoned. The client's timeout is fixed when it
is built, so each call gets a light client over one shared connection pool.
"""

from __future__ import annotations

from typing import Any

import httpx
import ollama

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


def _error_text(e: ollama.ResponseError) -> str:
    return (e.error or "").strip()[:500] or f"status {e.status_code}"


class OllamaProvider:
    protocol = "ollama"

    def __init__(self, name: str, host: str, api_key: str | None = None, *, think: bool = False) -> None:
        self.name, self.base_url, self.think = name, host.rstrip("/"), think
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._transport = httpx.HTTPTransport(retries=0)

    def chat(self, model: str, request: ChatRequest, timeout: float) -> ProviderReply:
        seen: dict[str, httpx.Headers] = {}

        def keep_headers(response: httpx.Response) -> None:
            seen["headers"] = response.headers

        client = ollama.Client(
            host=self.base_url,
            timeout=timeout,
            headers=self._headers,
            transport=self._transport,
            event_hooks={"response": [keep_headers]},
        )
        options: dict[str, Any] = {}
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.temperature is not None:
            options["temperature"] = request.temperature
        try:
            response = client.chat(
                model=model,
                messages=[m.to_json() for m in request.messages],
                format="json" if request.json_format else None,
                options=options or None,
                think=self.think,
                stream=False,
            )
        except ollama.ResponseError as e:
            if e.status_code == 429:
                retry_after = retry_after_seconds(seen.get("headers", {}).get("retry-after"))
                raise UpstreamRateLimited(f"{self.name} rate-limited the request: {_error_text(e)}", retry_after) from e
            raise UpstreamError(f"{self.name} answered {e.status_code}: {_error_text(e)}", e.status_code) from e
        except ConnectionError as e:
            raise UpstreamUnreachable(f"{self.name} is unreachable at {shown_url(self.base_url)}") from e
        except httpx.TimeoutException as e:
            raise UpstreamTimeout(f"{self.name} did not answer within {timeout:.1f}s") from e
        except httpx.HTTPError as e:
            shown = shown_url(self.base_url)
            detail = str(e).replace(self.base_url, shown)
            raise UpstreamUnreachable(f"{self.name} at {shown} failed: {type(e).__name__}: {detail}") from e
        except ValueError as e:  # a 200 whose body is not a chat response
            raise UpstreamError(f"{self.name} sent a reply that is not a chat response: {e}", 200) from e
        return ProviderReply(
            content=response.message.content or "",
            upstream_model=response.model or model,
            prompt_tokens=response.prompt_eval_count or 0,
            completion_tokens=response.eval_count or 0,
            finish_reason=response.done_reason,
        )

    def probe(self, timeout: float = 5.0) -> tuple[bool, str]:
        """Is the server there? (GET /api/version; no model is loaded.)"""
        try:
            r = httpx.get(f"{self.base_url}/api/version", headers=self._headers, timeout=timeout)
        except httpx.HTTPError as e:
            return False, f"{shown_url(self.base_url)} unreachable ({type(e).__name__})"
        return r.status_code < 400, f"{shown_url(self.base_url)} answers {r.status_code}"

    def close(self) -> None:
        self._transport.close()
