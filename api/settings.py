"""API settings: the shared lakehouse settings plus what only the HTTP service needs."""

from __future__ import annotations

import ipaddress
import os

from pydantic import Field, SecretStr, field_validator

from lakehouse_assets.core.settings import LakehouseSettings


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
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token every /v1 call must send; unset: the API is open (loopback only)."
    )
    api_tokens_secondary: list[SecretStr] = Field(
        default_factory=list, description="More accepted tokens, for rotation (JSON list)."
    )
    api_allow_cidrs: list[str] = Field(
        default_factory=list, description='Only these networks may call /v1, e.g. ["10.0.0.0/8", "127.0.0.1/32"].'
    )

    @field_validator("api_allow_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as e:
                raise ValueError(f"api_allow_cidrs: {cidr!r} is not a network: {e}") from e
        return v

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
