"""The Parquet store: layout, table schemas, manifests, the writer thread and range reads."""
