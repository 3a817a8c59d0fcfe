"""Render a scale benchmark result (a JSON-able dict) as a Markdown report plus one PNG chart.

The benchmark itself only measures; this module turns its numbers into something a reviewer can read
in a pull request: a headline table of our cost against a raw baseline, the other targets, memory,
where wall time went, and profiles.

    .venv/bin/python -m bench.scale_report bench/results/scale.json --out-dir bench/results
"""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for hints: importing matplotlib at module load would make `import` slow
    from matplotlib.axes import Axes

DASH = "—"
OURS_COLOR = "#1f77b4"
RAW_COLOR = "#b0b0b0"
MISS_COLOR = "#c0392b"
PASS_COLOR = "#1e7d32"

# Labels for the memory keys the benchmark writes; unknown keys still show, under their raw name.
MEMORY_LABELS: dict[str, tuple[str, str]] = {
    "vectors": ("vectors indexed", ""),
    "chroma_rss_before_mib": ("Chroma RSS before", "MiB"),
    "chroma_rss_after_mib": ("Chroma RSS after", "MiB"),
    "per_100k_mib": ("measured per 100k vectors", "MiB"),
    "float32_per_100k_mib": ("float32 vectors alone per 100k", "MiB"),
    "hnsw_graph_per_100k_mib": ("HNSW graph per 100k", "MiB"),
    "budget_per_100k_mib": ("budget per 100k", "MiB"),
}


# ---------------------------------------------------------------- formatting helpers


def _is_number(value: Any) -> bool:
    """bool is an int subclass, but True/False are facts, not quantities to format with separators."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def format_number(value: Any) -> str:
    """One rule for numbers without a known unit, so details and settings read alike."""
    if value is None:
        return DASH
    if not _is_number(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_measure(value: Any, unit: str | None) -> str:
    """Value with its unit; throughput and latency get the precision a reader can actually use."""
    if value is None:
        return DASH
    if not _is_number(value):
        return str(value)
    unit = unit or ""
    if unit.endswith("/s"):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    elif unit == "ms":
        text = f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = format_number(value)
    return f"{text} {unit}".strip()


def format_duration(seconds: Any) -> str:
    """Wall times of many minutes read better as `12 min 3 s` than as 723.4 s."""
    if not _is_number(seconds):
        return DASH
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min {secs} s"
    return f"{minutes} min {secs} s"


def format_started(started_at: Any) -> str | None:
    """ISO timestamps are precise but noisy; a report only needs the minute, in UTC when known."""
    if not started_at:
        return None
    try:
        moment = datetime.fromisoformat(str(started_at))
    except ValueError:
        return str(started_at)
    offset = moment.utcoffset()
    zone = " UTC" if offset is not None and offset.total_seconds() == 0 else ""
    return moment.strftime("%Y-%m-%d %H:%M") + zone


def escape_cell(value: Any) -> str:
    """A bare `|` or newline inside a cell would split or end the Markdown table row."""
    return str(value).replace("|", r"\|").replace("\r\n", " ").replace("\n", " ")


def code_cell(text: str) -> str:
    """Frames are code; a backtick inside one needs a longer fence so the span does not end early."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{escape_cell(text)}{pad}{fence}"


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """Every table in the report goes through here; callers escape row cells, since some add markup (<br>)."""
    lines = ["| " + " | ".join(escape_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def flatten(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested settings (hnsw: {...}) become dotted keys, which is how people search for them."""
    items: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items += flatten(value, f"{name}.")
        else:
            items.append((name, value))
    return items


def _setting_text(value: Any) -> str:
    """JSON spellings (true, null, a, b) match what the reader would put in a config file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return ", ".join(_setting_text(v) for v in value)
    return format_number(value) if isinstance(value, float) else str(value)


# ---------------------------------------------------------------- stage arithmetic


def stage_ratio(stage: Mapping[str, Any]) -> float | None:
    """Prefer the benchmark's ratio; derive it from ours/raw when absent so the verdict still shows."""
    ratio = stage.get("ratio")
    if _is_number(ratio):
        return float(ratio)
    ours, raw = stage.get("ours"), stage.get("raw")
    if not (_is_number(ours) and _is_number(raw) and ours > 0 and raw > 0):
        return None
    return raw / ours if stage.get("kind") == "throughput" else ours / raw


def stage_verdict(stage: Mapping[str, Any]) -> str:
    """A stage without a target is informational: a dash says so rather than a misleading PASS."""
    ratio, target = stage_ratio(stage), stage.get("target")
    if ratio is None or not _is_number(target):
        return DASH
    return "PASS" if ratio <= target else "MISS"


def _pass_text(flag: Any) -> str:
    """Checks and memory carry an explicit pass flag, possibly null when it could not be judged."""
    if flag is None:
        return DASH
    return "PASS" if flag else "MISS"


# ---------------------------------------------------------------- Markdown sections


def _header(results: Mapping[str, Any]) -> list[str]:
    """Title plus one line of context: without date and machine, the numbers cannot be compared."""
    lines = [f"# Scale benchmark: {format_number(results.get('rows'))} workers", ""]
    facts: list[str] = []
    started = format_started(results.get("started_at"))
    if started:
        facts.append(started)
    facts.append(f"total wall time {format_duration(results.get('total_seconds'))}")
    machine = results.get("machine") or {}
    if _machine_facts(machine):
        facts.append(", ".join(_machine_facts(machine)))
    lines.append(" · ".join(facts))
    versions = machine.get("versions") or {}
    if versions:
        lines += ["", "Versions: " + ", ".join(f"{name} {ver}" for name, ver in versions.items())]
    if machine.get("commit"):
        lines += ["", f"Code measured: commit {machine['commit']}"]
    return [*lines, ""]


def _machine_facts(machine: Mapping[str, Any]) -> list[str]:
    """Cores and memory first: on a small box they explain most of the numbers."""
    facts: list[str] = []
    if machine.get("cores") is not None:
        facts.append(f"{machine['cores']} cores")
    if machine.get("cpu"):
        facts.append(str(machine["cpu"]))
    if machine.get("memory_gib") is not None:
        facts.append(f"{format_number(machine['memory_gib'])} GiB RAM")
    if machine.get("python"):
        facts.append(f"Python {machine['python']}")
    return facts


def _stage_cell(stage: Mapping[str, Any]) -> str:
    """The title plus the stage's own wall time and details, which have no column of their own."""
    title = escape_cell(stage.get("title") or stage.get("key") or "?")
    extras: list[str] = []
    if _is_number(stage.get("seconds")):
        extras.append(f"{format_duration(stage['seconds'])} wall")
    for name, value in (stage.get("details") or {}).items():
        extras.append(f"{name}: {format_number(value)}")
    if not extras:
        return f"**{title}**"
    return f"**{title}**<br>" + escape_cell("; ".join(extras))


def _measure_cell(value: Any, unit: str | None, label: Any) -> str:
    """Tables cannot hold two lines, so the label goes under the value via <br>."""
    text = escape_cell(format_measure(value, unit))
    return f"{text}<br>{escape_cell(label)}" if label else text


def _headline(stages: list[Mapping[str, Any]]) -> list[str]:
    """The one table a reviewer reads: our cost over the raw tool's cost, against its target."""
    lines = ["## Headline: ours vs raw", ""]
    if not stages:
        return [*lines, "_No stages recorded._", ""]
    lines.append(
        "Ratio is our cost over raw cost (raw/ours for throughput, ours/raw for latency): above 1 means slower "
        "than raw."
    )
    lines.append("")
    rows = []
    for stage in stages:
        unit = stage.get("unit")
        ratio = stage_ratio(stage)
        target = stage.get("target")
        rows.append(
            [
                _stage_cell(stage),
                _measure_cell(stage.get("ours"), unit, stage.get("ours_label")),
                _measure_cell(stage.get("raw"), unit, stage.get("raw_label")),
                f"{ratio:.2f}x" if ratio is not None else DASH,
                f"≤ {target:.2f}x" if _is_number(target) else DASH,
                stage_verdict(stage),
            ]
        )
    return [*lines, *table(["Stage", "Ours", "Raw baseline", "Ratio", "Target", "Verdict"], rows), ""]


def _checks(checks: list[Mapping[str, Any]]) -> list[str]:
    """Targets that are not a ratio against a baseline (absolute latencies, counts)."""
    if not checks:
        return []
    rows = [
        [
            escape_cell(check.get("name", "?")),
            escape_cell(format_measure(check.get("value"), check.get("unit"))),
            escape_cell(check.get("target") or DASH),
            _pass_text(check.get("pass")),
        ]
        for check in checks
    ]
    return ["## Other checks", "", *table(["Name", "Value", "Target", "Verdict"], rows), ""]


def _memory(memory: Mapping[str, Any] | None) -> list[str]:
    """Vector store memory per 100k vectors, next to what the raw float32 data alone would need."""
    if not memory:
        return []
    rows = []
    for key, value in memory.items():
        if key in ("note", "pass"):
            continue
        label, unit = MEMORY_LABELS.get(key, (key, ""))
        text = f"{value:,.1f} {unit}" if unit == "MiB" and _is_number(value) else format_number(value)
        rows.append([escape_cell(label), escape_cell(text)])
    if "pass" in memory:
        rows.append(["verdict (measured ≤ budget)", _pass_text(memory.get("pass"))])
    lines = ["## Memory", "", *table(["Measure", "Value"], rows), ""]
    if memory.get("note"):
        lines += [str(memory["note"]), ""]
    return lines


def _timeline(results: Mapping[str, Any]) -> list[str]:
    """Shares of the whole command's wall time, plus what fell between the listed stages."""
    timeline = [t for t in results.get("timeline") or [] if _is_number(t.get("seconds"))]
    if not timeline:
        return []
    listed = sum(t["seconds"] for t in timeline)
    total = results.get("total_seconds")
    denominator = total if _is_number(total) and total > 0 else listed
    rows = [
        [escape_cell(t.get("stage", "?")), f"{t['seconds']:,.1f}", f"{100 * t['seconds'] / denominator:.1f}"]
        for t in timeline
    ]
    other = denominator - listed
    if other > 0.01 * denominator:
        rows.append(["_outside the listed stages_", f"{other:,.1f}", f"{100 * other / denominator:.1f}"])
    rows.append(["**total**", f"{denominator:,.1f}", "100.0"])
    return ["## Wall time by stage", "", *table(["Stage", "Seconds", "Share %"], rows), ""]


def _settings(settings: Mapping[str, Any] | None) -> list[str]:
    """The knobs of the run, so a rerun with other values can be compared line by line."""
    if not settings:
        return []
    rows = [[f"`{escape_cell(name)}`", escape_cell(_setting_text(value))] for name, value in flatten(settings)]
    return ["## Settings", "", *table(["Setting", "Value"], rows), ""]


def _profile(profile: Mapping[str, Any]) -> list[str]:
    """Top frames as the profiler reported them; the report does not re-rank or trim them."""
    facts = [str(profile[k]) for k in ("tool", "where") if profile.get(k)]
    if _is_number(profile.get("samples")):
        facts.append(f"{format_number(profile['samples'])} samples")
    lines = [f"Profile: {', '.join(facts) or 'unknown tool'}", ""]
    top = profile.get("top") or []
    if not top:
        return lines
    rows = [
        [
            code_cell(str(frame.get("frame", "?"))),
            _percent(frame.get("self_pct")),
            _percent(frame.get("total_pct")),
        ]
        for frame in top
    ]
    return [*lines, *table(["Frame", "Self %", "Total %"], rows), ""]


def _percent(value: Any) -> str:
    """Profiles are noisy below a tenth of a percent, so one decimal is all that is shown."""
    return f"{value:.1f}" if _is_number(value) else DASH


def _where_time_goes(stages: list[Mapping[str, Any]]) -> list[str]:
    """Only stages with an explanation or a profile: the rest have nothing to add here."""
    explained = [s for s in stages if s.get("explain") or s.get("profile")]
    if not explained:
        return []
    lines = ["## Where the time goes", ""]
    for stage in explained:
        lines += [f"### {stage.get('title') or stage.get('key') or '?'}", ""]
        if stage.get("explain"):
            lines += [str(stage["explain"]).strip(), ""]
        if stage.get("profile"):
            lines += _profile(stage["profile"])
    return lines


def _notes(notes: list[Any] | None) -> list[str]:
    """Caveats from the run that did not fit a number."""
    if not notes:
        return []
    return ["## Notes", "", *[f"- {note}" for note in notes], ""]


def render_markdown(results: Mapping[str, Any], png_name: str) -> str:
    """The whole report as Markdown; the chart is linked by `png_name`, relative to the .md file."""
    stages = list(results.get("stages") or [])
    lines = [
        *_header(results),
        *_headline(stages),
        *_checks(list(results.get("checks") or [])),
        *_memory(results.get("memory")),
        "## Chart",
        "",
        f"![throughput and latency by stage]({png_name})",
        "",
        *_timeline(results),
        *_settings(results.get("settings")),
        *_where_time_goes(stages),
        *_notes(results.get("notes")),
    ]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- chart


def _no_data(ax: Axes, title: str) -> None:
    """An empty panel still explains itself instead of showing bare axes (or crashing on log scale)."""
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="gray", fontsize=14)
    ax.set_xticks([])
    ax.set_yticks([])


def _short(label: str, width: int = 16) -> str:
    """Stage titles wrap onto a few lines so three panels fit side by side."""
    return "\n".join(textwrap.wrap(label, width)) or label


def _positive(value: Any) -> float:
    """Bars on a log axis need positive heights; missing or zero values become gaps (NaN)."""
    return float(value) if _is_number(value) and value > 0 else math.nan


def _grouped_bars(ax: Axes, stages: list[Mapping[str, Any]], title: str, ylabel: str, log: bool) -> None:
    """Ours next to raw per stage, with the ratio above each pair coloured by its verdict."""
    ours = [_positive(s.get("ours")) for s in stages]
    raw = [_positive(s.get("raw")) for s in stages]
    xs = list(range(len(stages)))
    width = 0.38
    ax.bar([x - width / 2 for x in xs], ours, width, label="ours", color=OURS_COLOR)
    ax.bar([x + width / 2 for x in xs], raw, width, label="raw", color=RAW_COLOR)
    if log:
        ax.set_yscale("log")
    tops = [max((v for v in pair if not math.isnan(v)), default=math.nan) for pair in zip(ours, raw, strict=True)]
    highest = max((t for t in tops if not math.isnan(t)), default=1.0)
    for x, top, stage in zip(xs, tops, stages, strict=True):
        ratio = stage_ratio(stage)
        if ratio is None or math.isnan(top):
            continue
        verdict = stage_verdict(stage)
        color = MISS_COLOR if verdict == "MISS" else PASS_COLOR if verdict == "PASS" else "black"
        y = top * 1.15 if log else top + 0.03 * highest
        ax.text(x, y, f"{ratio:.2f}x", ha="center", va="bottom", fontsize=9, color=color, fontweight="bold")
    # head room for the ratio labels; on a log axis also floor room, or the smallest pair is a sliver
    if log:
        lowest = min(v for v in ours + raw if not math.isnan(v))
        ax.set_ylim(bottom=lowest / 5, top=highest * 4)
    else:
        ax.set_ylim(top=highest * 1.18)
    ax.set_xticks(xs)
    ax.set_xticklabels([_short(str(s.get("title") or s.get("key") or "?")) for s in stages], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")


def _has_bars(stage: Mapping[str, Any]) -> bool:
    """A stage is plotted only if at least one of its two bars can be drawn."""
    return not (math.isnan(_positive(stage.get("ours"))) and math.isnan(_positive(stage.get("raw"))))


def _units(stages: list[Mapping[str, Any]], fallback: str) -> str:
    """Throughput stages may mix rows/s and docs/s; the axis label names every unit in use."""
    units = list(dict.fromkeys(str(s.get("unit")) for s in stages if s.get("unit")))
    return ", ".join(units) or fallback


def _throughput_panel(ax: Axes, stages: list[Mapping[str, Any]]) -> None:
    """Throughputs span orders of magnitude (rows/s vs docs/s), hence the log axis."""
    chosen = [s for s in stages if s.get("kind") == "throughput" and _has_bars(s)]
    title = "Throughput (higher is better)"
    if not chosen:
        _no_data(ax, title)
        return
    _grouped_bars(ax, chosen, title, _units(chosen, "per second") + " (log)", log=True)


def _latency_panel(ax: Axes, stages: list[Mapping[str, Any]]) -> None:
    """p50 latencies; a log axis only when they spread so far that small bars would vanish."""
    chosen = [s for s in stages if s.get("kind") == "latency" and _has_bars(s)]
    title = "Latency p50 (lower is better)"
    if not chosen:
        _no_data(ax, title)
        return
    values = [v for s in chosen for v in (_positive(s.get("ours")), _positive(s.get("raw"))) if not math.isnan(v)]
    log = max(values) / min(values) > 50
    _grouped_bars(ax, chosen, title, "p50 " + _units(chosen, "ms") + (" (log)" if log else ""), log=log)


def _timeline_panel(ax: Axes, timeline: list[Mapping[str, Any]]) -> None:
    """Horizontal bars in run order (top to bottom), so the long stage is obvious at a glance."""
    items = [t for t in timeline if _is_number(t.get("seconds"))]
    title = "Wall time by stage"
    if not items:
        _no_data(ax, title)
        return
    labels = [_short(str(t.get("stage", "?")), 24) for t in items]
    seconds = [float(t["seconds"]) for t in items]
    ys = list(range(len(items)))
    ax.barh(ys, seconds, color=OURS_COLOR)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    longest = max(seconds) or 1.0
    for y, value in zip(ys, seconds, strict=True):
        ax.text(value + 0.01 * longest, y, f"{value:,.1f} s", va="center", fontsize=8)
    ax.set_xlim(0, longest * 1.25)
    ax.set_xlabel("seconds")
    ax.set_title(title)


def render_chart(results: Mapping[str, Any], png_path: Path) -> None:
    """Three panels in one 1400x500 PNG: throughput, latency, and wall time by stage."""
    import matplotlib

    matplotlib.use("Agg")  # no display on benchmark boxes; must precede the pyplot import
    import matplotlib.pyplot as plt

    stages = list(results.get("stages") or [])
    fig, (ax_tp, ax_lat, ax_wall) = plt.subplots(1, 3, figsize=(14, 5), dpi=100)
    try:
        _throughput_panel(ax_tp, stages)
        _latency_panel(ax_lat, stages)
        _timeline_panel(ax_wall, list(results.get("timeline") or []))
        fig.suptitle(f"lakehouse scale benchmark, {format_number(results.get('rows'))} workers")
        fig.tight_layout()
        fig.savefig(png_path, dpi=100)
    finally:
        plt.close(fig)


# ---------------------------------------------------------------- entry points


def write_report(results: Mapping[str, Any], out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write `<stem>.md` and `<stem>.png` side by side so the Markdown's relative image link resolves."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path = out_dir / f"{stem}.md"
    png_path = out_dir / f"{stem}.png"
    render_chart(results, png_path)
    md_path.write_text(render_markdown(results, png_path.name), encoding="utf-8")
    return md_path, png_path


def main() -> None:
    """Re-render a saved result without rerunning the (long) benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="JSON file written by the scale benchmark")
    parser.add_argument("--out-dir", type=Path, default=None, help="defaults to the JSON file's folder")
    parser.add_argument("--stem", default=None, help="defaults to the JSON file's name without .json")
    args = parser.parse_args()
    results = json.loads(args.results.read_text(encoding="utf-8"))
    md_path, png_path = write_report(results, args.out_dir or args.results.parent, args.stem or args.results.stem)
    print(md_path)
    print(png_path)


if __name__ == "__main__":
    main()
