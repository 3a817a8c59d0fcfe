"""Request and response bodies of /v1/chat, /v1/chat/completions and /v1/iterate."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lakehouse_assets.core.llm.chat import ChatResult


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class Routing(BaseModel):
    model: str | None = Field(
        default=None,
        description="A model name (routed by prefix: qwen3.5:latest, ollama/<m>, ollama_cloud/<m>, <m>:cloud, "
        "openrouter/<vendor>/<m>, opencode/<m>, kimi/<m>) or a tier name.",
        examples=["qwen3.5:latest"],
    )
    tier: str | None = Field(
        default=None,
        description="A model tier (local_fast, local_judge, cloud_judge, frontier_review, weak_models): "
        "its models are tried in order.",
    )
    fallbacks: list[str] = Field(default_factory=list, description="Models to try, in order, if the first fails.")

    @model_validator(mode="after")
    def _model_or_tier(self) -> Routing:
        if not (self.model and self.model.strip()) and not self.tier:
            raise ValueError("model is required (a model name or a tier)")
        return self


class Generation(BaseModel):
    """How the model should answer; shared by chat and iterate."""

    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2, description="Left out upstream when not given.")
    format: Literal["json"] | None = Field(default=None, description='"json" asks the model for a JSON reply.')


class ChatBody(Routing, Generation):
    messages: list[ChatMessage] = Field(min_length=1, examples=[[{"role": "user", "content": "Reply with OK."}]])
    timeout: float | None = Field(
        default=None, gt=0, le=600, description="Seconds for the whole call, retries included."
    )


class FailedAttemptOut(BaseModel):
    model: str
    provider: str | None
    status: int
    error: str


class ChatReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "content": "OK",
                    "provider": "ollama",
                    "model": "qwen3.5:latest",
                    "upstream_model": "qwen3.5:latest",
                    "prompt_tokens": 3,
                    "completion_tokens": 1,
                    "total_tokens": 4,
                    "latency_ms": 3.38,
                    "finish_reason": "stop",
                    "failed_attempts": [],
                }
            ]
        }
    )

    content: str
    provider: str = Field(description="The provider that answered.")
    model: str = Field(description="The model name (as routed) that answered: the first, or a fallback.")
    upstream_model: str = Field(description="The model as the upstream reported it.")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    latency_ms: float
    finish_reason: str | None
    failed_attempts: list[FailedAttemptOut] = Field(description="Tries that failed before this answer.")

    @classmethod
    def of(cls, r: ChatResult) -> ChatReply:
        return cls(
            content=r.content,
            provider=r.provider,
            model=r.model,
            upstream_model=r.upstream_model,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            total_tokens=r.total_tokens,
            latency_ms=r.latency_ms,
            finish_reason=r.finish_reason,
            failed_attempts=[FailedAttemptOut(**f.to_json()) for f in r.failed_attempts],
        )


class ProviderOut(BaseModel):
    name: str
    protocol: Literal["ollama", "openai"]
    base_url: str


class ProvidersReply(BaseModel):
    providers: list[ProviderOut] = Field(
        description="Registered providers: local Ollama and every provider with a key."
    )
    unregistered: dict[str, str] = Field(
        description="Providers without a key, and the variable that would register them."
    )
    tiers: dict[str, list[str]]


# -- OpenAI-compatible ------------------------------------------------------------------------


class CompletionMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class CompletionsBody(BaseModel):
    """OpenAI's Chat Completions request; parameters this service does not use are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[CompletionMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    response_format: dict[str, Any] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int | None = Field(default=None, ge=1, le=1, description="Only one choice is supported.")


# -- iterate -----------------------------------------------------------------------------------


class IterateBody(Routing, Generation):
    prompt: str = Field(min_length=1, examples=["Fill contract C-1 with 2 available night-shift welders."])
    kind: str = Field(description="fill, email, sms or playbook", examples=["fill"])
    context: dict[str, Any] | None = Field(default=None, description='Given to the validator, e.g. {"shift": "night"}.')
    max_iterations: int | None = Field(default=None, ge=1, le=10, description="Attempts before giving up (default 3).")
    token_budget: int | None = Field(default=None, ge=1, description="Stop once this many tokens are spent.")
    timeout: float | None = Field(default=None, gt=0, le=600, description="Seconds per model call.")
    system: str | None = Field(default=None, description="Replaces the built-in instructions for the kind.")
    session_id: str | None = Field(default=None, description="Join key with other logs (e.g. a trace id).")


class AttemptOut(BaseModel):
    n: int
    prompt: str = Field(description="The user message of this attempt (the feedback, from the second on).")
    raw: str
    extracted: dict[str, Any] | None
    verdict: Literal["accepted", "invalid_json", "rejected"]
    error: dict[str, Any] | None = Field(description="The externally tagged validation error.")
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


class IterateReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_id": "9b1f0c3e5d7a4b2c8e6f1a3d5c7b9e0f",
                    "kind": "sms",
                    "model": "local_fast",
                    "answered_by": "qwen3.5:latest",
                    "provider": "ollama",
                    "accepted": True,
                    "verdict": "accepted",
                    "value": {"to": "+13125550147", "body": "Shift at 7am tomorrow."},
                    "validation": {"ok": True, "kind": "sms", "characters": 22},
                    "attempts": [
                        {
                            "n": 1,
                            "prompt": "Text worker 1 about tomorrow's 7am shift.",
                            "raw": '{"to": "+13125550147", "body": "Shift at 7am tomorrow."}',
                            "extracted": {"to": "+13125550147", "body": "Shift at 7am tomorrow."},
                            "verdict": "accepted",
                            "error": None,
                            "model": "qwen3.5:latest",
                            "provider": "ollama",
                            "prompt_tokens": 61,
                            "completion_tokens": 14,
                            "latency_ms": 412.0,
                        }
                    ],
                    "prompt_tokens": 61,
                    "completion_tokens": 14,
                    "total_tokens": 75,
                    "grounded_in_roster": None,
                }
            ]
        }
    )

    session_id: str
    kind: str
    model: str = Field(description="The model or tier asked for.")
    answered_by: str | None
    provider: str | None
    accepted: bool
    verdict: Literal["accepted", "max_iterations", "token_budget"]
    value: dict[str, Any] | None
    validation: dict[str, Any] | None
    attempts: list[AttemptOut]
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    grounded_in_roster: bool | None
