"""One settings object, read from the environment (prefix LAKEHOUSE_) or an env file.

The API, the Dagster resources and the CLI all build their storage, catalog and limits from this,
so a deployment is configured once.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LakehouseSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LAKEHOUSE_", env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    home: Path = Field(default=Path(".lakehouse"), description="Local lake folder (and scratch space).")

    # S3-compatible lake: set a bucket to switch the lake from the local folder to S3.
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    max_ingest_bytes: int = Field(default=1 << 30, description="Largest CSV accepted, in bytes.")
    sql_timeout_ms: int = Field(default=10_000, description="Default per-query time limit.")
    sql_max_timeout_ms: int = Field(default=60_000, description="Largest time limit a caller may ask for.")
    sql_max_rows: int = Field(default=10_000, description="Default row limit of a query result.")
    sql_rows_ceiling: int = Field(default=100_000, description="Largest row limit a caller may ask for.")
    sql_memory_limit: str = "1GB"
    catalog_refresh_seconds: float = Field(
        default=0.5, description="How stale the API's view of the catalog may get before it re-reads."
    )

    # Retrieval: embeddings and the vector store.
    embedder_backend: str = Field(default="local", description="'local' (all-MiniLM-L6-v2 on CPU) or 'ollama'.")
    embedder_model: str | None = Field(default=None, description="Ollama model; default nomic-embed-text.")
    ollama_host: str | None = Field(default=None, description="Defaults to OLLAMA_HOST, then localhost:11434.")
    embed_batch_size: int = 64
    embed_cache_size: int = 50_000
    chroma_url: str | None = Field(
        default=None, description="A Chroma server (http://host:port); unset: a local folder under home."
    )
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 100
    hnsw_max_neighbors: int = 32

    relevance_floor: float = Field(default=0.45, description="Matrix search drops hits scoring below this.")
    weak_models: list[str] = Field(
        default=["qwen3.5:latest", "qwen3:latest"], description="Models the downgrade gate never escalates from."
    )
    weak_model: str = Field(default="qwen3.5:latest", description="What the gate recommends when a weak model will do.")

    roster_dataset: str = Field(default="workers", description="The catalog dataset fills are validated against.")

    # Chat: providers are routed by model name. Local Ollama needs no key; every other provider is
    # registered only when its key is set (environment or the .env file), under the name its vendor
    # documents or with the LAKEHOUSE_ prefix.
    ollama_chat: bool = Field(default=True, description="Route bare and ollama/<m> models to local Ollama.")
    ollama_cloud_url: str = "https://ollama.com"
    openrouter_url: str = "https://openrouter.ai/api/v1"
    opencode_url: str = "https://opencode.ai/zen/v1"
    kimi_url: str = "https://api.kimi.com/coding/v1"
    ollama_cloud_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LAKEHOUSE_OLLAMA_CLOUD_API_KEY", "OLLAMA_API_KEY")
    )
    openrouter_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LAKEHOUSE_OPENROUTER_API_KEY", "OPENROUTER_API_KEY")
    )
    opencode_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LAKEHOUSE_OPENCODE_API_KEY", "OPENCODE_API_KEY")
    )
    kimi_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LAKEHOUSE_KIMI_API_KEY", "KIMI_API_KEY")
    )
    chat_timeout_seconds: float = Field(default=120.0, description="Default deadline of a chat call, retries included.")
    chat_retries: int = Field(default=2, description="Retries of a transient failure before the next fallback.")
    chat_backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles per retry.")
    chat_max_backoff_seconds: float = Field(default=8.0, description="Longest wait before a retry (Retry-After too).")

    # Model tiers: callers name a tier, and its models are tried in order.
    local_fast: list[str] = Field(default=["qwen3.5:latest"])
    local_judge: list[str] = Field(default=["qwen3.5:latest"])
    cloud_judge: list[str] = Field(default=["kimi-k2.6:cloud"])
    frontier_review: list[str] = Field(default=["openrouter/anthropic/claude-opus-4-7", "opencode/claude-opus-4-7"])

    iterate_max_iterations: int = Field(default=3, description="Default attempts of POST /v1/iterate.")
    iterate_token_budget: int = Field(default=20_000, description="Default token budget of one iterate session.")

    @property
    def journal_dir(self) -> Path:
        """Append-only JSONL logs the API writes (playbook records, ...)."""
        return self.home / "journal"

    @property
    def playbook_log_path(self) -> Path:
        return self.journal_dir / "playbooks.jsonl"

    @property
    def session_log_dir(self) -> Path:
        """Iterate sessions, one JSONL file per UTC day."""
        return self.journal_dir / "sessions"

    @property
    def model_tiers(self) -> dict[str, list[str]]:
        return {
            "local_fast": self.local_fast,
            "local_judge": self.local_judge,
            "cloud_judge": self.cloud_judge,
            "frontier_review": self.frontier_review,
            "weak_models": self.weak_models,
        }

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def hnsw(self) -> dict[str, int]:
        return {
            "ef_construction": self.hnsw_ef_construction,
            "ef_search": self.hnsw_ef_search,
            "max_neighbors": self.hnsw_max_neighbors,
        }

    @property
    def scratch_dir(self) -> Path:
        """Where in-flight uploads and Parquet files are staged (same filesystem as a local lake)."""
        return self.home / ".tmp"
