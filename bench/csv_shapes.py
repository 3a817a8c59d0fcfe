"""CSV shapes other than the sample roster, for benchmarks that must hold on any roster, not only ours.

`prose_roster`: a roster as another staffing system exports it: string ids (`C-0000042`), `;`-separated
lists, and on most rows a quoted prose summary full of commas; about 380 bytes a row (500,000 rows is
about 190 MB). Deterministic for a seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = (
    "reliable", "forklift", "certified", "night", "shift", "warehouse", "safety", "team", "lead", "inventory",
    "scanning", "pallet", "loading", "dock", "trained", "OSHA", "bilingual", "punctual", "detail", "oriented",
)  # fmt: skip
TITLES = ("Picker", "Packer", "Lift Truck Driver", "Welder", "Line Cook", "CNA", "Security Guard")
LICENSES = ("OSHA-10", "CDL-A", "CPR", "ServSafe")
HEADER = "candidate_id,full_name,title,abilities,licenses,summary,metro,home_state,pay_rate,tenure_years,status\n"
PROSE_SHARE = 0.85  # rows with a summary; the rest leave it empty


def prose_roster(path: Path, rows: int, seed: int = 7) -> int:
    """Write the roster to `path`; returns its size in bytes."""
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)
    with open(path, "w", newline="") as f:
        f.write(HEADER)
        for start in range(0, rows, 10_000):
            n = min(10_000, rows - start)
            picks = words[rng.integers(0, len(words), size=(n, 36))]
            skills = words[rng.integers(0, len(words), size=(n, 3))]
            titles = rng.integers(0, len(TITLES), size=n)
            has_prose = rng.random(n) < PROSE_SHARE
            lines = []
            for j in range(n):
                i = start + j
                prose = ", ".join(" ".join(picks[j, k : k + 6]) for k in range(0, 36, 6)) if has_prose[j] else ""
                lines.append(
                    f"C-{i:07d},Person {i},{TITLES[titles[j]]},{';'.join(skills[j])},"
                    f'{LICENSES[i % 4]};{LICENSES[(i + 1) % 4]},"{prose}",Metro {i % 50},OH,'
                    f"{15 + i % 20}.50,{i % 30},available\n"
                )
            f.write("".join(lines))
    return path.stat().st_size
