"""Command-line options several commands share: connection, index prefix, filters, display."""
