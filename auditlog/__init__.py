"""auditlog: emit, ship, index, retain, browse and export audit events.

Layers, imports only going down (``tests/test_layers.py`` checks them):

- the shell: ``auditlog.cli``, ``auditlog.commands`` (one module per area), ``auditlog.options`` (the flags
  commands share), ``auditlog.demo``; nothing imports it;
- the domain: ``auditlog.agent`` (emitter and shipper), ``auditlog.indexer`` (everything that knows
  Elasticsearch, with the query layer), ``auditlog.tui`` (Textual app and Excel export);
- shared pieces below them all: ``auditlog.core`` (error types, GC tuning).

In the repository the domain packages sit at the top level (``agent/``, ``indexer/``, ``tui/``); the
distribution maps them under ``auditlog.`` so nothing generic lands at the top of site-packages.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("auditlog-pipeline")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
