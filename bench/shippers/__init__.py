"""The file -> Elasticsearch shippers the ingest and reliability benchmarks run side by side."""
