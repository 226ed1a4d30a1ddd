"""``python -m auditlog``: the same as the ``auditlog`` command."""

from __future__ import annotations

import sys

from auditlog.cli import main

sys.exit(main())
