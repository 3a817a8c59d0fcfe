"""The `lakehouse` command: sample data, materialization, the API, and the demo stack."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from datetime import UTC, datetime
from pathlib import Path

from lakehouse_assets.core.settings import LakehouseSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cmd_sample(args: argparse.Namespace) -> int:
    from lakehouse_assets.core.catalog import validate_dataset_name
    from lakehouse_assets.core.landing import landing_key
    from lakehouse_assets.core.sample import write_workers_csv
    from lakehouse_assets.core.storage import open_storage

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


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.security import UnsafeBind, check_bind
    from api.settings import ApiSettings

    try:
        check_bind(args.host, ApiSettings())
    except UnsafeBind as e:
        print(f"lakehouse api: {e}", file=sys.stderr)
        return 2
    _ensure_dagster_home()
    uvicorn.run("api.main:app_from_env", factory=True, host=args.host, port=args.port, log_level="info")
    return 0


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} did not come up: its process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


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


def _launch_backfill(ui_url: str, partitions: list[str], assets: list[str], what: str) -> str:
    """Ask the Dagster daemon to materialize `assets` for `partitions` (a backfill), through the
    webserver's GraphQL API. Returns the backfill id or why it failed."""
    import json

    query = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
        __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
    params = {
        "partitionNames": partitions,
        "assetSelection": [{"path": [a]} for a in assets],
        "fromFailure": False,
    }
    body = json.dumps({"query": query, "variables": {"params": params}}).encode()
    request = urllib.request.Request(f"{ui_url}/graphql", data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            result = json.load(r)["data"]["launchPartitionBackfill"]
    except (OSError, KeyError, TypeError, ValueError) as e:
        return f"could not launch the backfill: {e}; materialize {what} from the UI"
    if "backfillId" in result:
        return f"backfill {result['backfillId']}"
    return f"could not launch the backfill: {result.get('message', result)}"


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start a service with its output appended to `log` (the child keeps its own handle)."""
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)


def cmd_demo(args: argparse.Namespace) -> int:
    """Sample data, materialize it through Dagster, then run the Dagster UI and the API until Ctrl-C."""
    settings = LakehouseSettings()
    os.environ.setdefault("LAKEHOUSE_HOME", str(settings.home.resolve()))
    _ensure_dagster_home()
    if cmd_sample(argparse.Namespace(rows=args.rows, seed=42, name="workers", out=None)):
        return 1
    if cmd_materialize(args):
        return 1
    logs = settings.home.resolve() / "logs"  # not DAGSTER_HOME/logs: Dagster owns that folder
    logs.mkdir(parents=True, exist_ok=True)
    _stop_on_signals()
    bin_dir = Path(sys.executable).parent
    procs: list[subprocess.Popen] = []
    try:
        chroma_url = f"http://{args.host}:{args.chroma_port}"
        chroma = _spawn(
            [str(bin_dir / "chroma"), "run", "--path", str(settings.chroma_path.resolve()), "--host", args.host,
             "--port", str(args.chroma_port)],
            logs / "chroma.log",
        )  # fmt: skip
        procs.append(chroma)
        _wait_http(f"{chroma_url}/api/v2/heartbeat", chroma, 60)
        os.environ["LAKEHOUSE_CHROMA_URL"] = chroma_url  # API and Dagster runs share the server
        dagster_cmd = ["dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.dagster_port)]
        ui = _spawn([str(bin_dir / "dagster"), *dagster_cmd], logs / "dagster.log")
        procs.append(ui)
        api = _spawn(
            [str(bin_dir / "lakehouse"), "api", "--host", args.host, "--port", str(args.api_port)], logs / "api.log"
        )
        procs.append(api)
        api_url, ui_url = f"http://{args.host}:{args.api_port}", f"http://{args.host}:{args.dagster_port}"
        _wait_http(f"{api_url}/health", api, 60)
        _wait_http(f"{ui_url}/server_info", ui, 180)
        from lakehouse_assets.core.corpora import CORPORA
        from lakehouse_assets.demo_activity import generate_activity

        backfill = _launch_backfill(
            ui_url, sorted(CORPORA), ["corpus_documents", "corpus_embeddings"], "corpus_embeddings"
        )
        from api.settings import ApiSettings

        tokens = ApiSettings().tokens()
        calls = generate_activity(api_url, token=tokens[0] if tokens else None)
        today = datetime.now(UTC).date().isoformat()
        daily = _launch_backfill(ui_url, [today], list(DAILY_DEMO_ASSETS), f"the {today} partitions")
        sql_example = '{"sql": "select role, count(*) n from workers group by role order by n desc limit 5"}'
        search_example = '{"query": "forklift operator with OSHA 10", "k": 3, "filter": {"state": "IL"}}'
        print(
            f"\nlakehouse is up\n  Dagster UI  {ui_url}\n  API         {api_url}  (OpenAPI docs: {api_url}/docs)\n"
            f"  Chroma      {chroma_url}\n  logs        {logs}\n\n"
            f"Embedding the corpora runs in the background ({backfill}); watch it under Runs.\n"
            f"{sum(calls.values())} demo API calls were made; today's distillation and drift partitions ({today}) "
            f"are being materialized from them ({daily}).\n\n"
            f"try:\n  curl -s {api_url}/v1/sql -H 'content-type: application/json' -d '{sql_example}'\n"
            f"  curl -s {api_url}/v1/matrix/search -H 'content-type: application/json' -d '{search_example}'\n"
            "\nCtrl-C stops everything.",
            flush=True,
        )
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        print("a service exited; stopping (see the logs above)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def main(argv: list[str] | None = None) -> int:
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
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("demo", help="sample data, materialize, then run the Dagster UI and the API")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--dagster-port", type=int, default=3000)
    p.add_argument("--chroma-port", type=int, default=8001)
    p.set_defaults(func=cmd_demo)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"lakehouse {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
