"""Shared pieces below every domain package: error types and GC tuning. Imports nothing of the project."""
