"""Where a stage's time goes: the top frames of a py-spy recording (another process) or a pyinstrument
session (this process), in one shape for the scale report.

Each frame is `function (file:line)`; `self_pct` is the share of samples (or seconds) spent in the
frame itself, `total_pct` the share with the frame anywhere on the stack (counted once per stack, so
recursion does not inflate it). py-spy runs with `--nonblocking`: it never pauses the process it
samples, so a recording costs the measured process next to nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TOP = 12


def _short(path: str) -> str:
    """A file path from its package down (site-packages and the checkout's root cut off)."""
    for marker in ("site-packages/", "dist-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib/python3."):
                path = path.split("/", 1)[-1]
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return path.removeprefix(root)


def _top(self_counts: Counter[str], total_counts: Counter[str], whole: float, top: int) -> list[dict[str, Any]]:
    if whole <= 0:
        return []
    ranked = sorted(total_counts, key=lambda f: (-self_counts[f], -total_counts[f]))[:top]
    return [
        {
            "frame": f,
            "self_pct": round(100 * self_counts[f] / whole, 1),
            "total_pct": round(100 * total_counts[f] / whole, 1),
        }
        for f in ranked
    ]


def top_of_collapsed(text: str, top: int = TOP) -> tuple[list[dict[str, Any]], int]:
    """(top frames by self time, sample count) from py-spy's `--format raw` (collapsed stacks)."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame_of_pyspy(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        samples += n
        self_counts[frames[-1]] += n
        for f in set(frames):
            total_counts[f] += n
    return _top(self_counts, total_counts, samples, top), samples


def _frame_of_pyspy(frame: str) -> str:
    """py-spy writes `function (path:line)`; shorten the path."""
    name, sep, rest = frame.partition(" (")
    if not sep:
        return frame
    path, _, line = rest.rstrip(")").rpartition(":")
    return f"{name} ({_short(path)}:{line})"


@contextlib.contextmanager
def pyspy(pid: int, rate: int = 200) -> Iterator[dict[str, Any]]:
    """Record `pid` with py-spy while the block runs; afterwards the dict holds `top`, `samples`, `tool`.

    When py-spy is missing or cannot attach, the dict holds `error` instead and the block still runs.
    """
    out: dict[str, Any] = {"tool": "py-spy"}
    exe = Path(sys.executable).parent / "py-spy"
    target = Path(tempfile.mkstemp(prefix="pyspy-", suffix=".txt")[1])
    proc = None
    if exe.exists():
        cmd = [str(exe), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--nonblocking"]
        cmd += ["--output", str(target)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield out
    finally:
        if proc is None:
            out["error"] = "py-spy is not installed"
        else:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            text = target.read_text() if target.exists() else ""
            if text.strip():
                out["top"], out["samples"] = top_of_collapsed(text)
            else:
                out["error"] = (err or b"").decode("utf-8", "replace").strip()[-300:] or "py-spy recorded nothing"
        with contextlib.suppress(OSError):
            os.unlink(target)


def top_of_pyinstrument(root: Any, top: int = TOP) -> list[dict[str, Any]]:
    """Top frames of a pyinstrument session's frame tree (`session.root_frame()`), by self time."""
    if root is None:
        return []
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()

    def walk(frame: Any, on_stack: tuple[str, ...]) -> None:
        if str(frame.function).startswith("["):  # pyinstrument's [self] / [await] leaves: the parent's own time
            if on_stack:
                self_counts[on_stack[-1]] += frame.time
            return
        key = f"{frame.function} ({_short(frame.file_path or '?')}:{frame.line_no})"
        if key not in on_stack:
            total_counts[key] += frame.time
        if not frame.children:
            self_counts[key] += frame.time
        for child in frame.children:
            walk(child, (*on_stack, key))

    walk(root, ())
    return _top(self_counts, total_counts, root.time, top)


@contextlib.contextmanager
def pyinstrument_profile(interval: float = 0.01) -> Iterator[dict[str, Any]]:
    """Profile this process's calling thread while the block runs (pyinstrument)."""
    from pyinstrument import Profiler

    out: dict[str, Any] = {"tool": "pyinstrument", "where": "bench process (main thread)"}
    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        yield out
    finally:
        session = profiler.stop()
        root = session.root_frame()  # built once: on a long run's samples that takes seconds
        out["top"] = top_of_pyinstrument(root)
        out["samples"] = session.sample_count
        out["_root"] = root  # for share_of(); not serialized


def share_of(profile: dict[str, Any], *needles: str) -> float:
    """Percent of a pyinstrument profile's time under any frame whose `function (file...)` contains a needle."""
    root = profile.get("_root")
    if root is None or root.time <= 0:
        return 0.0

    def walk(frame: Any) -> float:
        key = f"{frame.function} ({frame.file_path or ''})"
        if any(n in key for n in needles):
            return frame.time
        return sum(walk(c) for c in frame.children)

    return round(100 * walk(root) / root.time, 1)
