"""ECS categorisation (``event.kind`` / ``event.category`` / ``event.type``) from ``event.action``.

Kibana users filter on ECS categories, so every event gets them, derived from the seed's Type:

==================================  ================  =============
action (lowercase)                  event.category    event.type
==================================  ================  =============
auth, login, signin, sign_in        authentication    start
logout, signout, sign_out           authentication    end
create, add, book, invite           configuration     creation
update, change, edit, move, ...     configuration     change
delete, remove, cancel              configuration     deletion
read, view, export, download        configuration     access
anything else                       configuration     info
==================================  ================  =============

``event.kind`` is always ``event``. A namespaced verb (``appointment.update``, ``slots:delete``) is
looked up by its last segment. Unknown verbs are allowed by the contract; they get the neutral ECS
type ``info`` under ``configuration`` (the product's audit trail is about its settings and data) rather
than no category, so a Kibana filter on ``event.category`` still finds them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_CATEGORY", "categorize"]

#: what an unknown verb gets: (category, type).
DEFAULT_CATEGORY: tuple[str, str] = ("configuration", "info")

_VERBS: dict[str, tuple[str, str]] = {}
for _verbs, _entry in (
    (("auth", "login", "signin", "sign_in", "sign-in"), ("authentication", "start")),
    (("logout", "signout", "sign_out", "sign-out"), ("authentication", "end")),
    (("create", "add", "book", "invite"), ("configuration", "creation")),
    (("update", "change", "edit", "modify", "move", "reschedule", "rename"), ("configuration", "change")),
    (("delete", "remove", "cancel"), ("configuration", "deletion")),
    (("read", "view", "export", "download"), ("configuration", "access")),
):
    for _verb in _verbs:
        _VERBS[_verb] = _entry


def _lookup(action: str) -> tuple[str, str]:
    entry = _VERBS.get(action)
    if entry is not None:
        return entry
    lowered = action.lower()
    for sep in (".", ":", "/"):
        if sep in lowered:
            lowered = lowered.rsplit(sep, 1)[1]
    return _VERBS.get(lowered, DEFAULT_CATEGORY)


def categorize(action: str) -> dict[str, Any]:
    """Return the ECS categorisation for one ``event.action``.

    Args:
        action: the verb, e.g. ``"update"`` or ``"appointment.update"``.

    Returns:
        ``{"kind": "event", "category": [c], "type": [t]}`` with fresh lists (safe to mutate).
    """
    category, kind = _lookup(action)
    return {"kind": "event", "category": [category], "type": [kind]}
