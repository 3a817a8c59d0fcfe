"""The journals the API and jobs append to, outside Dagster: external assets the daily assets read."""

import dagster as dg

observer_journal = dg.AssetSpec(
    "observer_journal",
    kinds={"jsonl"},
    description="Observer ops (every /v1 call, MCP tool calls, scenario steps), one JSONL file per UTC day.",
)
replay_journal = dg.AssetSpec(
    "replay_journal",
    kinds={"jsonl"},
    description="Replay runs (replay.run.v1) written by the replay_past_tasks job, one JSONL file per UTC day.",
)
session_journal = dg.AssetSpec(
    "session_journal",
    kinds={"jsonl"},
    description="Append-only JSONL of iterate sessions (session.iterate.v1) written by POST /v1/iterate, "
    "one file per UTC day under <home>/journal/sessions/.",
)
playbook_log = dg.AssetSpec(
    "playbook_log",
    kinds={"jsonl"},
    description="Append-only JSONL of playbook records written by POST /v1/matrix/playbooks/record.",
)
