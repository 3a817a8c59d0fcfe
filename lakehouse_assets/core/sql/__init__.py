"""Sandboxed SQL over the catalog: read-only DuckDB with deadlines, row caps and plain errors."""
