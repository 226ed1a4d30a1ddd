"""Excel export of audit events (openpyxl, write-only, streaming)."""
