"""Feed the emitter benchmark's per-call inputs to the product emitter (``agent.emitter``) the way an app calls it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditlog.agent.emitter import configure, shutdown
from auditlog.agent.processors import VERBS


def product_writer(path: Path) -> tuple[Callable[[dict[str, Any]], None], Callable[[], None]]:
    """Return ``(write_one, close)``: one audit call per input through a freshly configured emitter.

    Every field is passed as a keyword of the verb call (nothing bound in advance), so the emitter gets
    exactly the inputs the stdlib baseline gets; strict mode, so an invalid input fails the benchmark.
    """
    emitter = configure(path=path, strict=True)
    log = emitter.logger()

    def write_one(call: dict[str, Any]) -> None:
        user = call["user"] or {}
        meta = call["meta"]
        fields: dict[str, Any] = {
            "source": call["source"], "tier": call["tier"],
            "tenant": call["tenant"]["id"], "tenant_name": call["tenant"].get("name"),
            "worker_id": user.get("id"), "worker_name": user.get("name"), "worker_email": user.get("email"),
            "worker_roles": user.get("roles"),
            "ip": meta.get("source", {}).get("ip"), "url": meta.get("url", {}).get("full"),
            "user_agent": meta.get("user_agent", {}).get("original"),
        }
        if call["changes"]:
            fields["changes"] = call["changes"]
        if call.get("login_type"):
            fields["login_type"] = call["login_type"]
        # No None filter: the emitter drops None values itself (None = absent), so an app passes them as they come.
        action = call["action"]
        if action in VERBS:
            getattr(log, action)(call["message"], **fields)
        else:
            log.action(action, call["message"], **fields)

    return write_one, shutdown
