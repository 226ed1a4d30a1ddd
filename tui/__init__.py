"""The terminal UI and the Excel export: find, inspect and export audit events.

Pure logic (no Textual, no network): ``diff`` (Raw rows), ``sanitize`` (safe Excel cells), ``summaries``
(Jinja2 one-liners), ``eventview``/``rowview`` (what is shown), ``timerange``, ``filters``,
``export`` (xlsx writer). Data access: ``backend`` (through ``indexer.query``), ``access`` (customer
view). Textual: ``app``, ``screens/`` (one per module), ``widgets/``, ``app.tcss``. Commands: ``commands``.
"""
