"""The benchmarks' summaries: py-spy's collapsed stacks and pyinstrument sessions, the encoder benchmark's verdict."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.profiles import pyinstrument_profile, share_of, top_of_collapsed

ROOT = Path(__file__).resolve().parent.parent

COLLAPSED = """\
process 12 (python);thread (0x1);run (app/server.py:10);handle (app/handler.py:20);parse (app/parse.py:5) 30
process 12 (python);thread (0x1);run (app/server.py:10);handle (app/handler.py:20) 10
process 12 (python);thread (0x2);work (/x/site-packages/lib/mod.py:7);work (/x/site-packages/lib/mod.py:7) 60
not a stack line
"""


def test_collapsed_stacks_give_self_and_total_shares_counting_recursion_once() -> None:
    top, samples = top_of_collapsed(COLLAPSED)
    assert samples == 100
    by_frame = {row["frame"]: row for row in top}
    assert top[0]["frame"] == "work (lib/mod.py:7)"  # the most self time first; site-packages cut off
    assert by_frame["work (lib/mod.py:7)"] == {"frame": "work (lib/mod.py:7)", "self_pct": 60.0, "total_pct": 60.0}
    assert by_frame["parse (app/parse.py:5)"]["self_pct"] == 30.0
    assert by_frame["handle (app/handler.py:20)"] == {
        "frame": "handle (app/handler.py:20)",
        "self_pct": 10.0,
        "total_pct": 40.0,
    }
    assert not any(row["frame"].startswith(("process", "thread")) for row in top)


def _spin(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def _idle(seconds: float) -> None:
    time.sleep(seconds)


def test_pyinstrument_profile_names_the_hot_function_and_its_share() -> None:
    with pyinstrument_profile(interval=0.001) as profile:
        _spin(0.3)
        _idle(0.1)
    assert profile["samples"] > 50
    frames = [row["frame"] for row in profile["top"]]
    assert any(f.startswith("_spin (tests/test_bench_profiles.py") for f in frames), frames
    spin = share_of(profile, "_spin (")
    idle = share_of(profile, "_idle (")
    assert 55 < spin < 95 and 10 < idle < 45, (spin, idle)


def test_bench_scale_refuses_a_roster_too_small_to_measure() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lakehouse_assets.cli", "bench", "scale", "--rows", "10"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert "--rows must be at least 1000" in out.stderr


def test_the_encoder_benchmark_says_whether_the_default_keeps_fp32s_precision():
    from bench.encoders import default_verdict

    def tiers(int8_hybrid: float, int8_dense: float) -> dict:
        fam = lambda h, d: {"hybrid": {"role": h, "constrained": 1.0}, "dense": {"role": d, "constrained": 0.2}}  # noqa: E731
        return {"tiers": {"local": {"eval": {"families": fam(0.90, 0.50)}},
                          "onnx": {"eval": {"families": fam(int8_hybrid, int8_dense)}}}}  # fmt: skip

    assert "every family: yes (largest gap 0.005)" in default_verdict(tiers(0.895, 0.50))[0]
    assert "every family: NO (largest gap 0.050)" in default_verdict(tiers(0.85, 0.50))[0]
    assert default_verdict(tiers(0.90, 0.45))[0].endswith("0.450 vs 0.500: NO.")
