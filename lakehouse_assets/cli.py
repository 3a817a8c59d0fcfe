"""The `lakehouse` command: sample data, materialization, the API, and the demo stack."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakehouse_assets.core.settings import LakehouseSettings
from lakehouse_assets.dagster_launch import launch_backfill, launch_run
from lakehouse_assets.services import PROJECT_ROOT, Service, Stack, StackConfig, StackError, down, status


def cmd_sample(args: argparse.Namespace) -> int:
    from lakehouse_assets.core.lake.catalog import validate_dataset_name
    from lakehouse_assets.core.lake.landing import landing_key
    from lakehouse_assets.core.lake.storage import open_storage
    from lakehouse_assets.core.sample.generate import write_workers_csv

    settings = LakehouseSettings()
    validate_dataset_name(args.name)
    storage = open_storage(settings)
    key = landing_key(args.name)
    local = storage.local_path(key)
    target = Path(args.out) if args.out else (local or settings.scratch_dir / f"{args.name}.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    size = write_workers_csv(target, args.rows, seed=args.seed)
    if not args.out and local is None:
        storage.put_file(key, target)
        target.unlink(missing_ok=True)
    where = args.out or f"{storage.describe().rstrip('/')}/{key}"
    print(f"wrote {args.rows:,} workers ({size / 2**20:.1f} MiB) to {where}")
    return 0


def _ensure_dagster_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and (PROJECT_ROOT / "dagster.yaml").exists():
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def cmd_materialize(args: argparse.Namespace) -> int:
    _ensure_dagster_home()
    import dagster as dg

    from lakehouse_assets.definitions import defs
    from lakehouse_assets.materialize import materialize_landing

    with dg.DagsterInstance.get() as instance:
        results = materialize_landing(defs, instance)
    failed = [r for r in results if not r.success]
    print(f"materialized {len(results)} runs, {len(failed)} failed")
    return 1 if failed else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from lakehouse_assets.doctor import report, run_checks

    ports = {"API": args.api_port, "Dagster UI": args.dagster_port, "Chroma server": args.chroma_port}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dagster's preview/beta notices are not findings
        checks = run_checks(LakehouseSettings(), ports=ports, embedder=not args.no_embedder)
    text, healthy = report(checks, args.json)
    print(text)
    return 0 if healthy else 1


def cmd_mcp(args: argparse.Namespace) -> int:
    from lakehouse_assets.mcp_server import run

    run(args.api_url, args.token)
    return 0


def _materialize_names(names: list[str], partitions: Sequence[str | None] = (None,)) -> bool:
    import dagster as dg

    from lakehouse_assets.definitions import defs
    from lakehouse_assets.materialize import materialize_assets

    with dg.DagsterInstance.get() as instance:
        return all(materialize_assets(defs, instance, names, p).success for p in partitions)


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.security import UnsafeBind, check_bind
    from api.settings import ApiSettings

    settings = ApiSettings()
    try:
        check_bind(args.host, settings)
    except UnsafeBind as e:
        print(f"lakehouse api: {e}", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print(f"lakehouse api: --workers must be at least 1, not {args.workers}", file=sys.stderr)
        return 2
    workers = settings.worker_processes(args.workers)
    if workers > 1 and not settings.chroma_url:
        print(
            f"lakehouse api: {workers} worker processes share vectors only through a Chroma server, and none is "
            "set: set LAKEHOUSE_CHROMA_URL (`lakehouse up` starts one), or run one worker (--workers 1)",
            file=sys.stderr,
        )
        return 2
    _ensure_dagster_home()
    uvicorn.run(
        "api.main:app_from_env", factory=True, host=args.host, port=args.port, log_level="info",
        workers=workers if workers > 1 else None,
        proxy_headers=False,  # the API's gate reads X-Forwarded-For, from LAKEHOUSE_API_TRUSTED_PROXIES only
    )  # fmt: skip
    return 0


def _stop_on_signals() -> None:
    """Ctrl-C or a TERM from a supervisor both stop the stack (SIGINT may arrive ignored in a background job)."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


DAILY_DEMO_ASSETS = (
    "iterate_sessions",
    "evidence_records",
    "scored_evidence",
    "sft_export",
    "dataset_drift",
    "scorer_drift",
    "playbook_drift",
)


# The demo's backfills run each run in one process (the in-process executor): on a small machine a
# process per step (about 8 s of CPU each to start) costs more than the steps themselves.
IN_ONE_PROCESS: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}
FIRST_IN_LINE: dict[str, Any] = {"tags": {"dagster/priority": "10"}, "run_config": IN_ONE_PROCESS}


def _stack_config(args: argparse.Namespace, settings: LakehouseSettings) -> StackConfig:
    return StackConfig(
        home=settings.home.resolve(),
        host=args.host,
        services_host=args.services_host,
        api_port=args.api_port,
        dagster_port=args.dagster_port,
        chroma_port=args.chroma_port,
    )


def _print_urls(services: list[Service], logs: Path) -> None:
    width = max(len(s.name) for s in services)
    lines = [f"  {s.name:{width}}  {s.url}" + ("  (OpenAPI docs: /docs)" if s.name == "api" else "") for s in services]
    print("\nlakehouse is up\n" + "\n".join(lines) + f"\n  {'logs':{width}}  {logs}", flush=True)


def _serve(stack: Stack) -> int:
    """Keep the stack up until Ctrl-C (or `lakehouse down`), or until a service dies."""
    try:
        while stack.running():
            time.sleep(1)
        print("a service exited; stopping everything (see the logs)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping...", file=sys.stderr)
        return 0
    finally:
        stack.stop()


def cmd_ui_check(args: argparse.Namespace) -> int:
    from lakehouse_assets.ui_check import NoBrowser, check_ui

    try:
        result = check_ui(args.url, Path(args.out))
    except NoBrowser as e:
        print(f"lakehouse ui-check: {e}", file=sys.stderr)
        return 2
    print(f"asset graph at {result.url}: found {', '.join(result.found) or 'nothing'}")
    if result.missing:
        print(f"missing: {', '.join(result.missing)}", file=sys.stderr)
    print(f"screenshot: {result.screenshot}")
    return 0 if result.ok else 1


def _prepare_models(settings: LakehouseSettings) -> threading.Thread:
    """Build the embedding models' artifacts (the int8 export, the static model) on a thread, the first
    time only: otherwise the API's first search and each Dagster run's first step would wait for them."""
    from lakehouse_assets.core.vectors.embedder import build_artifacts

    def prepare() -> None:
        try:
            build_artifacts(settings)
        except Exception as e:  # the services report it where it matters (doctor, the first search)
            print(f"the embedding models could not be prepared: {type(e).__name__}: {e}", file=sys.stderr)

    thread = threading.Thread(target=prepare, name="prepare-models", daemon=True)
    thread.start()
    return thread


def cmd_up(args: argparse.Namespace) -> int:
    """Start Chroma, the Dagster webserver and daemon, and the API; wait for each; serve until Ctrl-C."""
    settings = LakehouseSettings()
    os.environ.setdefault("LAKEHOUSE_HOME", str(settings.home.resolve()))
    _ensure_dagster_home()
    _stop_on_signals()
    stack = Stack(_stack_config(args, settings))
    try:
        _prepare_models(settings).join()
        services = stack.start()
    except (StackError, KeyboardInterrupt) as e:
        print(f"lakehouse up: {e}" if isinstance(e, StackError) else "interrupted", file=sys.stderr)
        return 1
    _print_urls(services, stack.config.logs)
    print("\nCtrl-C (or `lakehouse down`) stops everything.", flush=True)
    return _serve(stack)


def cmd_down(args: argparse.Namespace) -> int:
    stopped = down(_stack_config(args, LakehouseSettings()))
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing is running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    rows = status(_stack_config(args, LakehouseSettings()))
    if not rows:
        print("nothing is running (no stack state)")
        return 1
    for r in rows:
        state = "up" if r["running"] and r["healthy"] else "running, not answering" if r["running"] else "down"
        print(f"{r['name']:8} {state:24} {r['url']}  pid {r['pid']}  log {r['log']}")
    return 0 if all(r["running"] and r["healthy"] for r in rows) else 1


BENCHMARKS = ("scale",)


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmarks live in the source checkout's bench/ (they start servers and write reports there)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if not (root / "bench" / f"{args.name}.py").is_file():
        raise RuntimeError(f"bench/{args.name}.py is not here: benchmarks run from a source checkout ({root})")
    return subprocess.run([sys.executable, "-m", f"bench.{args.name}", *args.options], cwd=root).returncode


def cmd_demo(args: argparse.Namespace) -> int:
    """Sample data, materialize it through Dagster, bring the stack up, make a round of API calls and
    materialize today's daily graph from them; serve until Ctrl-C."""
    settings = LakehouseSettings()
    os.environ.setdefault("LAKEHOUSE_HOME", str(settings.home.resolve()))
    _ensure_dagster_home()
    models = _prepare_models(settings)  # alongside the sample and its materialization
    if cmd_sample(argparse.Namespace(rows=args.rows, seed=42, name="workers", out=None)):
        return 1
    if cmd_materialize(args):
        return 1
    from lakehouse_assets.core.retrieval.corpora import CORPORA

    rosters = sorted(set(CORPORA) - {"playbooks"})
    # The rosters' documents now, while the models are prepared: the API's first search then answers by
    # constraints and keywords at once instead of waiting for a backfill run to start and build them.
    if not _materialize_names(["corpus_documents"], rosters):
        return 1
    _stop_on_signals()
    stack = Stack(_stack_config(args, settings))
    try:
        models.join()
        services = stack.start()
    except (StackError, KeyboardInterrupt) as e:
        print(f"lakehouse demo: {e}" if isinstance(e, StackError) else "interrupted", file=sys.stderr)
        return 1
    try:
        from api.settings import ApiSettings
        from lakehouse_assets.demo_activity import generate_activity

        urls = {s.name: s.url for s in services}
        # The roster's embeddings first, at the head of the queue: search by meaning within a minute.
        corpus_assets = ["corpus_documents", "corpus_instant_embeddings", "corpus_embeddings"]
        embeddings = corpus_assets[1:]
        launched = [
            launch_run(urls["dagster"], roster, embeddings, f"corpus_embeddings[{roster}]", **FIRST_IN_LINE)
            for roster in rosters
        ]
        tokens = ApiSettings().tokens()
        calls = generate_activity(urls["api"], token=tokens[0] if tokens else None)
        _materialize_names(["playbook_memory"])  # the playbooks the activity recorded, before their corpus is built
        launch_backfill(
            urls["dagster"], ["playbooks"], corpus_assets, "corpus_embeddings[playbooks]", run_config=IN_ONE_PROCESS
        )
        today = datetime.now(UTC).date().isoformat()
        daily = launch_backfill(
            urls["dagster"], [today], list(DAILY_DEMO_ASSETS), f"the {today} partitions", run_config=IN_ONE_PROCESS
        )
    except KeyboardInterrupt:
        stack.stop()
        return 0
    except Exception:
        stack.stop()
        raise
    api_url = urls["api"]
    sql_example = '{"sql": "select role, count(*) n from workers group by role order by n desc limit 5"}'
    search_example = '{"query": "forklift operator with OSHA 10", "k": 3, "filter": {"state": "IL"}}'
    _print_urls(services, stack.config.logs)
    print(
        f"\nEmbedding the corpora runs in the background ({', '.join(launched)}); watch it under Runs.\n"
        f"{sum(calls.values())} demo API calls were made; today's distillation and drift partitions ({today}) "
        f"are being materialized from them ({daily}).\n\n"
        f"try:\n  curl -s {api_url}/v1/sql -H 'content-type: application/json' -d '{sql_example}'\n"
        f"  curl -s {api_url}/v1/matrix/search -H 'content-type: application/json' -d '{search_example}'\n"
        "\nCtrl-C (or `lakehouse down`) stops everything.",
        flush=True,
    )
    return _serve(stack)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="write the synthetic staffing CSV into the landing zone")
    p.add_argument("--rows", type=int, default=100_000, help="1,000 to 500,000")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--name", default="workers", help="dataset name (landing/<name>.csv)")
    p.add_argument("--out", help="write to this path instead of the landing zone")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("materialize", help="materialize every landing CSV and the derived tables via Dagster")
    p.set_defaults(func=cmd_materialize)

    p = sub.add_parser("doctor", help="check that this installation can work; prints the fix for each failure")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-embedder", action="store_true", help="skip loading the embedding model (about 10 s)")
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--dagster-port", type=int, default=3000)
    p.add_argument("--chroma-port", type=int, default=8001)
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("mcp", help="serve the MCP tools over stdio (a client of the HTTP API)")
    p.add_argument(
        "--api-url", default=None, help="the API (default LAKEHOUSE_MCP_API_URL, else http://127.0.0.1:8000)"
    )
    p.add_argument("--token", default=None, help="bearer token (default LAKEHOUSE_API_TOKEN)")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("api", help="serve the HTTP API")
    p.add_argument("--host", default=os.environ.get("LAKEHOUSE_API_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("LAKEHOUSE_API_PORT", "8000")))
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes (default LAKEHOUSE_API_WORKERS: one per core)"
    )
    p.set_defaults(func=cmd_api)

    def stack_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1", help="the API's address (beyond loopback it needs a token)")
        p.add_argument(
            "--services-host", default="127.0.0.1",
            help="Chroma's and the Dagster webserver's address: they have no authentication, keep them on loopback "
            "unless a proxy guards them",
        )  # fmt: skip
        p.add_argument("--api-port", type=int, default=8000)
        p.add_argument("--dagster-port", type=int, default=3000)
        p.add_argument("--chroma-port", type=int, default=8001)

    p = sub.add_parser("demo", help="sample data, materialize, bring the stack up, make demo activity")
    p.add_argument("--rows", type=int, default=100_000)
    stack_args(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ui-check", help="render the Dagster UI in headless Chromium; check the asset graph; screenshot")
    p.add_argument("--url", default="http://127.0.0.1:3000", help="the Dagster UI")
    p.add_argument("--out", default="dagster-ui.png", help="where the screenshot goes")
    p.set_defaults(func=cmd_ui_check)

    p = sub.add_parser("up", help="start Chroma, the Dagster UI and daemon, and the API; Ctrl-C stops them")
    stack_args(p)
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop the stack `lakehouse up` started")
    stack_args(p)
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="is each service of the stack running and answering?")
    stack_args(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("bench", help="run a benchmark from the checkout: `lakehouse bench scale --rows N`")
    p.add_argument("name", choices=BENCHMARKS)
    p.add_argument("options", nargs=argparse.REMAINDER, help="passed to the benchmark (--help lists them)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"lakehouse {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
