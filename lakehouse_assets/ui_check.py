"""`lakehouse ui-check`: proof that the Dagster UI renders the asset graph, from a headless Chromium.

It loads the UI's asset lineage page, renders its JavaScript, checks that the asset names are on the
page, and saves a screenshot. Needs a `chromium` (Debian's package) on the PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Asset groups whose lineage graph is rendered, and asset names each graph must show.
EXPECTED = {
    "distillation": ("observer_journal", "evidence_records", "scored_evidence", "sft_export"),
    "drift": ("corpus_embeddings", "scored_evidence", "dataset_drift", "embedding_drift", "playbook_drift"),
}
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class NoBrowser(RuntimeError):
    pass


@dataclass(frozen=True)
class UiCheck:
    url: str
    screenshot: Path
    found: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and self.screenshot.exists() and self.screenshot.stat().st_size > 10_000


def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise NoBrowser(f"no headless browser found (tried {', '.join(BROWSERS)}); on Debian: apt install chromium")


def _run(args: list[str], timeout: float) -> str:
    base = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1600,1000"]
    done = subprocess.run(
        [*base, "--virtual-time-budget=20000", *args], capture_output=True, timeout=timeout, text=True
    )
    return done.stdout


def check_ui(dagster_url: str, screenshot: Path, timeout: float = 120.0) -> UiCheck:
    """Render each group's lineage graph, look for its asset names, and screenshot the first group."""
    base = dagster_url.rstrip("/")
    found: list[str] = []
    missing: list[str] = []
    for group, names in EXPECTED.items():
        dom = _run(["--dump-dom", f"{base}/locations/lakehouse/asset-groups/{group}"], timeout)
        found += [f"{group}/{n}" for n in names if n in dom]
        missing += [f"{group}/{n}" for n in names if n not in dom]
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    first = next(iter(EXPECTED))
    _run([f"--screenshot={screenshot}", f"{base}/locations/lakehouse/asset-groups/{first}"], timeout)
    return UiCheck(f"{base}/locations/lakehouse/asset-groups", screenshot, tuple(found), tuple(missing))
