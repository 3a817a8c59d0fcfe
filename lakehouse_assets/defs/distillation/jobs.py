"""The replay job: past tasks, fresh retrieval, today's models, validated and journaled."""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from lakehouse_assets.core.distillation.replay import ReplayTask, past_tasks, replay_task
from lakehouse_assets.core.llm.validation import Roster
from lakehouse_assets.core.memory.journal import DailyJournal
from lakehouse_assets.core.retrieval.search import MatrixSearch
from lakehouse_assets.resources import ChatResource, EmbedderResource, LakeResource, VectorStoreResource


class ReplayConfig(dg.Config):
    day: str | None = Field(
        default=None, description="Whose iterate sessions to replay (YYYY-MM-DD); default today (UTC)."
    )
    model: str | None = Field(default=None, description="A model name; default: the tier.")
    tier: str = Field(default="local_fast", description="Used when no model is named.")
    limit: int = Field(default=20, ge=1, le=1000, description="Most tasks replayed.")
    k: int = Field(default=5, ge=0, le=50, description="Workers retrieved into each prompt (0: none).")


@dg.op
def load_past_tasks(context: dg.OpExecutionContext, config: ReplayConfig, lake: LakeResource) -> list[dict]:
    """Distinct prompts of the day's iterate sessions."""
    day = config.day or datetime.now(UTC).date().isoformat()
    tasks = past_tasks(DailyJournal(lake.settings().session_log_dir).day(day), config.limit)
    context.log.info("%d tasks to replay from %s", len(tasks), day)
    return [t.__dict__ for t in tasks]


@dg.op
def replay_tasks(
    context: dg.OpExecutionContext,
    config: ReplayConfig,
    tasks: list[dict],
    lake: LakeResource,
    chat: ChatResource,
    embedder: EmbedderResource,
    vector_store: VectorStoreResource,
) -> dict:
    """Retrieve, ask, validate, journal: one replay.run.v1 record per task."""
    settings = lake.settings()
    roster = Roster(lake.open(), settings.roster_dataset, max_candidates=settings.fill_max_candidates)
    matrix = MatrixSearch(vector_store.get(), embedder.get(), min_score=settings.relevance_floor) if config.k else None
    journal = DailyJournal(settings.replay_log_dir)
    verdicts: dict[str, int] = {}
    with chat.router() as router:
        for task in tasks:
            record = replay_task(
                ReplayTask(**task),
                chat=router,
                roster=roster,
                journal=journal,
                matrix=matrix,
                model=config.model,
                tier=None if config.model else config.tier,
                k=config.k,
                run_id=context.run_id,
            )
            verdicts[record["verdict"]] = verdicts.get(record["verdict"], 0) + 1
    context.log_event(
        dg.AssetMaterialization(
            "replay_journal",
            metadata={
                "replayed": dg.MetadataValue.int(len(tasks)),
                **{k: dg.MetadataValue.int(v) for k, v in verdicts.items()},
            },
        )
    )
    return verdicts


@dg.job(
    description="Replay past iterate tasks through the chat router with fresh retrieval; logs to the replay journal."
)
def replay_past_tasks() -> None:
    replay_tasks(load_past_tasks())
