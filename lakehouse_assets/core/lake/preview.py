"""A short Markdown preview of a dataset version: what a person wants to see next to a row count."""

from __future__ import annotations

import pyarrow.parquet as pq

from lakehouse_assets.core.lake.catalog import Manifest
from lakehouse_assets.core.lake.storage import LakeStorage


def _cell(v: object, width: int = 40) -> str:
    text = "" if v is None else str(v)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def preview_markdown(lake: LakeStorage, manifest: Manifest, rows: int = 5) -> str:
    """The first `rows` rows of the live version as a Markdown table (reads one row group at most)."""
    fs, path = lake.arrow_location(manifest.object_key)
    with fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        if pf.metadata.num_row_groups == 0:
            return "_(no rows)_"
        table = next(pf.iter_batches(batch_size=rows))
    names = table.schema.names
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for record in table.to_pylist()[:rows]:
        lines.append("| " + " | ".join(_cell(record[n]) for n in names) + " |")
    return "\n".join(lines)
