"""One settings object, read from the environment (prefix LAKEHOUSE_) or one env file (`.env` in the
working directory, or the file LAKEHOUSE_ENV_FILE names; `lakehouse.env.example` lists the settings).

The API, the Dagster resources and the CLI all build their storage, catalog and limits from this,
so a deployment is configured once.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lakehouse_assets.core.vectors.embedder.base import DEFAULT_BACKEND


class LakehouseSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LAKEHOUSE_",
        env_file=os.environ.get("LAKEHOUSE_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    home: Path = Field(default=Path(".lakehouse"), description="Local lake folder (and scratch space).")

    # S3-compatible lake: set a bucket to switch the lake from the local folder to S3.
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    catalog_uri: str | None = Field(
        default=None,
        description="The Iceberg SQL catalog (a SQLAlchemy URL, e.g. postgresql+psycopg://...); unset: "
        "a SQLite file, home/catalog.db.",
    )

    version_retention: int = Field(
        default=0,
        ge=0,
        description="Versions of each dataset the daily snapshot expiry keeps (the newest N); 0 keeps every one.",
    )
    compaction_min_files: int = Field(
        default=2, ge=2, description="A live version spread over this many data files or more is compacted into one."
    )

    max_ingest_bytes: int = Field(default=1 << 30, description="Largest CSV accepted, in bytes.")
    sql_timeout_ms: int = Field(default=10_000, description="Default per-query time limit.")
    sql_max_timeout_ms: int = Field(default=60_000, description="Largest time limit a caller may ask for.")
    sql_max_rows: int = Field(default=10_000, description="Default row limit of a query result.")
    sql_rows_ceiling: int = Field(default=100_000, description="Largest row limit a caller may ask for.")
    sql_memory_limit: str = "1GB"
    sql_max_temp_size: str = Field(
        default="4GB", description="Most disk a query may spill to (DuckDB's max_temp_directory_size); past it, 400."
    )
    sql_max_result_bytes: int = Field(
        default=32 << 20, ge=1024, description="Largest JSON result of one query; more rows are cut (truncated)."
    )
    catalog_refresh_seconds: float = Field(
        default=0.5, description="How stale the API's view of the catalog may get before it re-reads."
    )

    # Retrieval: embeddings and the vector store.
    embedder_backend: str = Field(
        default=DEFAULT_BACKEND,
        description="'onnx' (all-MiniLM-L6-v2 as int8 ONNX, the default), 'local' (the same model in torch fp32, "
        "CUDA when available), 'static' (a model2vec model distilled from it: the instant tier) or 'ollama'.",
    )
    embedder_model: str | None = Field(default=None, description="Ollama model; default nomic-embed-text.")
    ollama_host: str | None = Field(default=None, description="Defaults to OLLAMA_HOST, then localhost:11434.")
    embed_batch_size: int = 32
    embed_cache_size: int = 50_000
    embed_models_dir: Path | None = Field(
        default=None, description="Where the int8 export and the static model are built and cached; unset: home/models."
    )
    embed_threads: int | None = Field(
        default=None, description="ONNX Runtime threads per session; unset: the CPUs this process may use."
    )
    embed_parts: int = Field(
        default=1,
        ge=1,
        description="Parts the full model's embedding of one corpus is split into, each a step of its own that "
        "an executor can run in another process or on another machine; more than 1 needs the Chroma server.",
    )
    chroma_url: str | None = Field(
        default=None, description="A Chroma server (http://host:port); unset: a local folder under home."
    )
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 100
    hnsw_max_neighbors: int = 32

    relevance_floor: float = Field(
        default=0.56,
        description="Matrix search's floor for a corpus searched without a frame (no facets); a corpus with one "
        "is judged per query against the off-topic probes its text lacks (core/retrieval/relevance.py).",
    )
    search_vectors_sync_max: int = Field(
        default=20_000,
        description="Up to this many documents, a search reads a corpus index's new vectors itself when the index "
        "changes; a larger index is followed by a background thread.",
    )
    search_instant_tier: bool = Field(
        default=True,
        description="Answer a corpus from its instant index (<index>-instant, the static model) while the full "
        "model's index is incomplete; search switches to the full model by itself once it holds every document.",
    )
    search_vectors_follow_seconds: float = Field(
        default=2.0, description="How often the new vectors of a large index that keeps changing are read."
    )
    search_llm_model: str | None = Field(
        default=None, description="Model for the optional LLM parse of unparsed query words (else the tier)."
    )
    search_llm_tier: str = Field(default="local_fast", description="Tier for the optional LLM parse.")
    weak_models: list[str] = Field(
        default=["qwen3.5:latest", "qwen3:latest"], description="Models the downgrade gate never escalates from."
    )
    weak_model: str = Field(default="qwen3.5:latest", description="What the gate recommends when a weak model will do.")

    roster_dataset: str = Field(default="workers", description="The catalog dataset fills are validated against.")
    fill_max_candidates: int = Field(
        default=1000, ge=1, description="The most candidates one fill may propose; more is refused (422, Schema)."
    )

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
    chat_max_fallbacks: int = Field(default=4, ge=0, le=64, description="Most fallback models one call may name.")

    # Model tiers: callers name a tier, and its models are tried in order.
    local_fast: list[str] = Field(default=["qwen3.5:latest"])
    local_judge: list[str] = Field(default=["qwen3.5:latest"])
    cloud_judge: list[str] = Field(default=["kimi-k2.6:cloud"])
    frontier_review: list[str] = Field(default=["openrouter/anthropic/claude-opus-4-7", "opencode/claude-opus-4-7"])

    # Memory: pathway traces and the observer's ring of recent operations.
    observer_ring_size: int = Field(default=2000, description="Operations the observer keeps in memory.")
    observer_sample_rate: float = Field(
        default=1.0, ge=0.0, le=1.0, description="Share of /v1 calls the API middleware records as ops."
    )

    # Distillation: which scored records are exported for fine-tuning, and the held-out set they must avoid.
    sft_min_score: float = Field(default=0.8, description="Lowest score an accepted record needs to be exported.")
    eval_holdout_dataset: str = Field(
        default="eval_holdout", description="Catalog dataset of held-out evaluation items (an `input` column)."
    )
    firewall_similarity: float = Field(
        default=0.92, description="Cosine similarity at which an input counts as a near-duplicate of a held-out item."
    )

    # Drift: daily scores of how far data, vectors, the scorer and endorsements moved (defs/drift).
    drift_dataset: str = Field(default="workers", description="The catalog dataset whose columns dataset_drift scores.")
    drift_baseline_version: int = Field(
        default=1, ge=1, description="Version of drift_dataset the live version is compared with (1 = the first)."
    )
    drift_min_rows: int = Field(
        default=30, ge=1, description="Smallest sample on either side that gets a verdict other than too_few_rows."
    )
    drift_max_sample: int = Field(
        default=50_000, ge=1, description="Rows sampled (seeded, repeatable) per side of a dataset or scorer check."
    )
    drift_max_categories: int = Field(
        default=200, ge=2, description="Text columns with more distinct values are free text, not scored as categories."
    )
    drift_embedding_sample: int = Field(
        default=1000, ge=1, description="Vectors per corpus in the stored baseline and in each day's sample."
    )
    drift_psi_threshold: float = Field(default=0.2, description="PSI of a numeric column above which it drifted.")
    drift_ks_threshold: float = Field(default=0.2, description="KS statistic of a numeric column to call drift.")
    drift_js_threshold: float = Field(
        default=0.1, description="Jensen-Shannon distance (base 2) of a categorical column above which it drifted."
    )
    drift_centroid_threshold: float = Field(
        default=0.05, description="Cosine distance of a corpus centroid from its baseline's above which it drifted."
    )
    drift_mmd_threshold: float = Field(
        default=0.05, description="Squared RBF-kernel MMD of corpus vectors against the baseline to call drift."
    )
    drift_scorer_threshold: float = Field(
        default=0.1, description="Day-over-day Wasserstein distance of scored_evidence scores above which they drifted."
    )
    drift_playbook_threshold: float = Field(
        default=0.3, description="Jensen-Shannon distance of a day's endorsements from all earlier ones to call drift."
    )

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
    def pathway_log_path(self) -> Path:
        return self.journal_dir / "pathway.jsonl"

    @property
    def observer_log_dir(self) -> Path:
        """Observer operations, one JSONL file per UTC day."""
        return self.journal_dir / "observer"

    @property
    def replay_log_dir(self) -> Path:
        """Replay runs, one JSONL file per UTC day."""
        return self.journal_dir / "replay"

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


def env_file() -> str:
    """The env file settings are read from: the one LAKEHOUSE_ENV_FILE names, else `.env`. Asked when settings
    are read, not when this module is imported (a process may set the variable after importing it)."""
    return os.environ.get("LAKEHOUSE_ENV_FILE", ".env")


def load_settings(**overrides: object) -> LakehouseSettings:
    """The settings from the environment and the env file, with `overrides` (e.g. a resource's own
    configuration) on top."""
    return LakehouseSettings(_env_file=env_file(), **overrides)  # type: ignore[arg-type]
