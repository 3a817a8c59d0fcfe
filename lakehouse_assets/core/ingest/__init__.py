"""Ingest: CSV streamed to content-addressed Parquet (typed, error-located) and registered in the catalog."""
