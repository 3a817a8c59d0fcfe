"""A short preview of a dataset version: the first rows, what a person wants to see next to a row count."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from lakehouse_assets.core.lake.catalog import Manifest
from lakehouse_assets.core.lake.storage import LakeStorage

CELL_WIDTH = 40  # a longer text is cut, so a resume column does not fill the screen


def _cell(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float):
        return v
    text = str(v).replace("\n", " ")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def preview_rows(lake: LakeStorage, manifest: Manifest, rows: int = 5) -> list[dict[str, Any]]:
    """The first `rows` rows of the version (reads one row group at most); numbers stay numbers, other
    values become text of at most CELL_WIDTH characters."""
    fs, path = lake.arrow_location(manifest.object_key)
    with fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        if pf.metadata.num_row_groups == 0:
            return []
        batch = next(pf.iter_batches(batch_size=rows))
    return [{k: _cell(v) for k, v in record.items()} for record in batch.to_pylist()[:rows]]
