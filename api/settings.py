"""API settings: the shared lakehouse settings plus what only the HTTP service needs."""

from __future__ import annotations

import ipaddress
import os
import re

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from lakehouse_assets.core.settings import LakehouseSettings

MIN_TOKEN_LENGTH = 16
# What example files and tutorials put where a token goes: a deployment that kept one is not secured.
_PLACEHOLDER = re.compile(
    r"(change|replace|fill|put|set)[-_ ]?(me|this|it)|your[-_ ]?(api[-_ ]?)?(token|key|secret)|<[^>]*>|"
    r"^(secret|token|password|passw0rd|example|test|admin|default|lakehouse|x+|0+|1234\d*)$",
    re.IGNORECASE,
)


def _checked_token(field: str, token: SecretStr) -> None:
    value = token.get_secret_value().strip()
    if not value:
        return
    if _PLACEHOLDER.search(value):
        raise ValueError(f"{field}: that is a placeholder, not a token; generate one, e.g. `openssl rand -hex 32`")
    if len(value) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"{field}: a token must be at least {MIN_TOKEN_LENGTH} characters (this one has {len(value)}); "
            "generate one, e.g. `openssl rand -hex 32`"
        )


class ApiSettings(LakehouseSettings):
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    warm_embedder: bool = Field(default=True, description="Load the embedding model at start-up, not on first use.")
    report_to_dagster: bool = Field(
        default=True,
        description="Record online ingests as materializations in the Dagster instance (DAGSTER_HOME).",
    )

    api_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="API worker processes (each holds its own search frames and caches, ~1.5 GiB at 100,000 "
        "workers; api_max_in_flight applies to each); 0: one per core, at most 4. More than one needs a Chroma "
        "server (LAKEHOUSE_CHROMA_URL): a Chroma folder takes one process.",
    )
    api_max_body_bytes: int = Field(
        default=16 << 20, ge=1, description="Largest request body under /v1 except ingest (which has its own cap)."
    )
    api_max_in_flight: int = Field(
        default=64, ge=0, description="Requests under /v1 served at once; more get 503 + Retry-After (0: no cap)."
    )
    api_max_ingests: int = Field(
        default=4,
        ge=1,
        description="Uploads converted at once (each holds a thread as its bytes arrive); more: 503.",
    )
    api_max_sql: int = Field(default=16, ge=1, description="SQL queries run at once; more get 503 + Retry-After.")
    api_max_llm_calls: int = Field(
        default=16, ge=1, description="Chat, completions and iterate calls at once (each may wait minutes); more: 503."
    )
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token every /v1 call must send; unset: the API is open (loopback only)."
    )
    api_tokens_secondary: list[SecretStr] = Field(
        default_factory=list, description="More accepted tokens, for rotation (JSON list)."
    )
    api_allow_cidrs: list[str] = Field(
        default_factory=list, description='Only these networks may call /v1, e.g. ["10.0.0.0/8", "127.0.0.1/32"].'
    )
    api_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse proxies (networks) whose X-Forwarded-For names the caller; from anyone else the "
        'header is ignored, e.g. ["127.0.0.1/32"] behind a proxy on this machine.',
    )
    api_body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest a request body under /v1 may take to arrive (ingest excepted); then 408.",
    )
    ingest_body_timeout_seconds: float = Field(
        default=600.0, gt=0, description="Longest an ingest upload may take to arrive; then 408 and nothing is added."
    )

    @field_validator("api_allow_cidrs", "api_trusted_proxies")
    @classmethod
    def _cidrs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as e:
                raise ValueError(f"{info.field_name}: {cidr!r} is not a network: {e}") from e
        return v

    @field_validator("api_token")
    @classmethod
    def _token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            _checked_token("api_token", v)
        return v

    @field_validator("api_tokens_secondary")
    @classmethod
    def _tokens(cls, v: list[SecretStr]) -> list[SecretStr]:
        for token in v:
            _checked_token("api_tokens_secondary", token)
        return v

    def slot_limits(self) -> dict[str, tuple[int, str]]:
        """Each kind of long work's bound, and the setting that sets it (api/slots.py)."""
        return {
            "ingests": (self.api_max_ingests, "LAKEHOUSE_API_MAX_INGESTS"),
            "SQL queries": (self.api_max_sql, "LAKEHOUSE_API_MAX_SQL"),
            "LLM calls": (self.api_max_llm_calls, "LAKEHOUSE_API_MAX_LLM_CALLS"),
        }

    def worker_processes(self, asked: int | None = None) -> int:
        """How many API processes to run: `asked` (a --workers flag), else the setting; 0 means one per core
        (at most 4), which without a Chroma server is one."""
        wanted = asked if asked is not None else self.api_workers
        if wanted:
            return wanted
        return max(1, min(4, os.cpu_count() or 1)) if self.chroma_url else 1

    def tokens(self) -> tuple[str, ...]:
        """Every accepted token (empty ones ignored)."""
        all_ = [self.api_token, *self.api_tokens_secondary]
        return tuple(t.get_secret_value().strip() for t in all_ if t is not None and t.get_secret_value().strip())

    def allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(c, strict=False) for c in self.api_allow_cidrs]

    def trusted_proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(c, strict=False) for c in self.api_trusted_proxies]
