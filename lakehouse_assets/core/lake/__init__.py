"""The lake: object storage (a folder or an S3 bucket), the catalog of dataset versions, Arrow types,
DuckDB over the live versions, previews, the landing zone and derived tables."""
