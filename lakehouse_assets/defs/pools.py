"""The two pools assets and ops queue in (limits in dagster.yaml: one at a time each).

A pool is a property of the op, and a folder's `defs.yaml` post-processing can set an asset's group, owners,
tags and kinds but not its op's pool (Dagster 1.13), so each decorator names one of these; the snapshot in
tests/defs/asset_specs.json shows which pool every asset has."""

# Writers of the catalog: ingest, derived tables and every dataset an asset registers. Catalog writes already
# retry on a conflicting commit; the pool keeps two runs from rebuilding the same table at once.
CATALOG_WRITERS = "catalog_writers"

# Writers of the Chroma collections: one run at a time embeds into an index.
VECTOR_STORE = "vector_store"
