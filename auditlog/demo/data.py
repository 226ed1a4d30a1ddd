"""Deterministic fabrication of realistic audit events (contract v1, nested JSON).

The demo, the tests, the benchmarks and the TUI's screenshots all need the same kind of data: an
appointment-booking product with tenants on every subscription tier, workers acting in them, the
seed's sources (appointments, slots, login, services, settings, workers, customers, ...) and types
(``auth``, ``create``, ``update``, ``delete``), "Raw" changes (an appointment moved from 10:00 to
11:00, a slot's capacity raised from 8 to 10, a settings toggle, a customer's new email) and "Meta"
(IPv4/IPv6 address, URL, user agent, login type).

Everything here is pure: one seeded ``random.Random`` drives every choice, so the same
``(count, seed, start, end, tenants)`` always yields the same events, byte for byte, and nothing
reads the clock, the network or the disk. Events are produced lazily (constant memory for any count).

Choices (documented because the contract is silent on them):
- Timestamps follow an office-hours profile (UTC hours 6-17 busy, nights and weekends quiet) so the
  histogram looks like a real product's; they are non-decreasing and lie in ``[start, end)``.
- ``event.id`` is a UUIDv7-shaped string built from the event's own millisecond and the seeded
  generator: sortable by time like the emitter's ids, yet reproducible.
- ``audit.changes`` holds ``{"old": null, "new": v}`` for ``create`` (new values only),
  ``{"old": v, "new": null}`` for ``delete`` and both (different) values for ``update``; ``auth``
  events carry no changes.
  ``event.outcome`` is set on ``auth`` events only (success or failure).
- ``audit.changed_fields`` (the sorted keys of ``audit.changes``) and the ECS categorisation are left
  out: the emitter/agent add them, exactly as for an application's own events.
- ``audit.login_type`` is the login type of the acting session and is present on every event.
- The average event is about 690 bytes as compact JSON (700-750 once the emitter adds
  ``audit.changed_fields``); the benchmarks size their data by it.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auditlog.core.contract import CONTRACT, F

TIERS: tuple[str, ...] = ("enterprise", "business", "whitelabel", "professional", "flatrate", "basic")
ACTIONS: tuple[str, ...] = ("auth", "create", "update", "delete")
LOGIN_TYPES: tuple[str, ...] = ("password", "sso", "api")

DASHBOARD = "https://app.booking.example"
API = "https://api.booking.example"


@dataclass(frozen=True)
class Worker:
    """An employee or resource of a tenant who can act in the product."""

    id: str
    name: str
    email: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Tenant:
    """A customer account: subscription tier, workers, usual office addresses."""

    id: str
    name: str
    tier: str
    slug: str
    workers: tuple[Worker, ...]
    office_ips: tuple[str, ...]
    weight: float = 1.0  # relative share of the events (big tenants are busier)


def _tenant(
    org_id: str, name: str, tier: str, slug: str, domain: str, weight: float,
    office_ips: tuple[str, ...], people: Sequence[tuple[str, tuple[str, ...]]],
) -> Tenant:
    workers = tuple(
        Worker(
            id=f"w-{org_id.removeprefix('org-')}{n:02d}",
            name=person,
            email=f"{person.split()[0].lower()}.{person.split()[-1].lower()}@{domain}",
            roles=roles,
        )
        for n, (person, roles) in enumerate(people, start=1)
    )
    return Tenant(id=org_id, name=name, tier=tier, slug=slug, workers=workers, office_ips=office_ips, weight=weight)


_ADMIN, _MANAGER, _WORKER, _SUPPORT = ("admin",), ("manager",), ("worker",), ("support", "read_only")

#: The demo's tenants: at least one per tier, names as a booking product's customers have them.
DEFAULT_TENANTS: tuple[Tenant, ...] = (
    _tenant("org-1001", "Helvetia Gesundheitszentren AG", "enterprise", "helvetia-gz", "helvetia-gz.example", 6.0,
            ("85.195.212.14", "85.195.212.15", "2a02:168:4a1f::1"),
            [("Anna Keller", _ADMIN), ("Lukas Meier", _MANAGER), ("Sara Brunner", _WORKER),
             ("Jonas Frei", _WORKER), ("Mia Huber", _WORKER), ("Noah Baumann", _WORKER),
             ("Lea Schmid", _SUPPORT), ("Elias Gerber", _MANAGER)]),
    _tenant("org-1002", "Nordbank Beratung", "enterprise", "nordbank", "nordbank.example", 4.5,
            ("193.5.82.40", "2001:620:0:4::28"),
            [("Julia Wagner", _ADMIN), ("Felix Schneider", _MANAGER), ("Laura Fischer", _WORKER),
             ("David Weber", _WORKER), ("Lena Becker", _WORKER), ("Tim Hoffmann", _SUPPORT)]),
    _tenant("org-2001", "Praxis am Seeufer", "business", "praxis-seeufer", "praxis-seeufer.example", 3.0,
            ("178.197.230.9",),
            [("Claudia Steiner", _ADMIN), ("Marco Rossi", _WORKER), ("Nina Graf", _WORKER),
             ("Peter Zimmermann", _WORKER)]),
    _tenant("org-2002", "Stadtverwaltung Winterthal", "business", "winterthal", "winterthal.example", 2.5,
            ("195.65.10.77", "2a00:1128:1:2::15"),
            [("Urs Kälin", _ADMIN), ("Sandra Moser", _MANAGER), ("Beat Widmer", _WORKER),
             ("Andrea Roth", _WORKER), ("Reto Bühler", _WORKER)]),
    _tenant("org-3001", "Energie Mittelland Kundencenter", "whitelabel", "energie-mittelland",
            "energie-mittelland.example", 2.5, ("212.243.41.3",),
            [("Martina Vogel", _ADMIN), ("Daniel Suter", _WORKER), ("Simone Arnold", _WORKER),
             ("Patrick Lehmann", _SUPPORT)]),
    _tenant("org-4001", "Coiffure Bella Vista", "professional", "bella-vista", "bellavista.example", 1.5,
            ("92.106.177.201",),
            [("Giulia Bianchi", _ADMIN), ("Sofia Costa", _WORKER), ("Luca Ferrari", _WORKER)]),
    _tenant("org-4002", "Physiotherapie Sonnenhalde", "professional", "sonnenhalde", "sonnenhalde.example", 1.5,
            ("31.10.141.56", "2a02:aa10:3a7f::2"),
            [("Thomas Berger", _ADMIN), ("Monika Egli", _WORKER), ("Stefan Kunz", _WORKER)]),
    _tenant("org-5001", "Fahrschule Rapid", "flatrate", "fahrschule-rapid", "fahrschule-rapid.example", 1.2,
            ("83.77.12.190",),
            [("Roger Ammann", _ADMIN), ("Karin Wyss", _WORKER), ("Heinz Zbinden", _WORKER)]),
    _tenant("org-6001", "Yoga Studio Lotus", "basic", "yoga-lotus", "yoga-lotus.example", 0.7,
            ("188.61.4.22",),
            [("Priya Nair", _ADMIN), ("Emma Dubois", _WORKER)]),
    _tenant("org-6002", "Velowerkstatt Kettenblatt", "basic", "kettenblatt", "kettenblatt.example", 0.5,
            ("46.14.98.133",),
            [("Fabian Keller", _ADMIN), ("Jana Hofer", _WORKER)]),
)

_USER_AGENTS: dict[str, tuple[str, ...]] = {
    "browser": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ),
    "app": ("BookingApp/5.12.0 (iOS 18.1; iPhone15,2)", "BookingApp/5.11.3 (Android 15; Pixel 8)"),
    "api": ("python-requests/2.32.3", "Zapier/1.0 (+https://zapier.com)", "Go-http-client/2.0", "axios/1.7.7"),
}

_FIRST = ("Anna", "Hans", "Maria", "Peter", "Laura", "Marco", "Sophie", "Luca", "Eva", "Samuel", "Nora", "Adrian")
_LAST = ("Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer", "Steiner", "Fischer")
_MAIL = ("gmail.com", "bluewin.ch", "gmx.ch", "outlook.com", "proton.me")
_SERVICES = ("Erstberatung", "Haarschnitt Damen", "Physiotherapie 30 min", "Fahrstunde", "Hypothekenberatung",
             "Passverlängerung", "Yoga Anfänger", "Velo-Service")
_STATUSES = ("confirmed", "cancelled", "no_show", "completed")

# Source -> relative frequency. ``login`` carries the ``auth`` events, the others create/update/delete.
_SOURCE_WEIGHTS: dict[str, float] = {
    "appointments": 30, "login": 18, "customers": 12, "slots": 10, "services": 5, "settings": 5,
    "workers": 5, "booking_questions": 3, "calendars": 3, "stores": 2, "webhooks": 2,
}
_CRUD_WEIGHTS = (("create", 25.0), ("update", 60.0), ("delete", 15.0))

# UTC hour -> relative activity (European office hours), and the weekend damping.
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 5, 9, 10, 10, 9, 8, 9, 10, 10, 9, 7, 4, 3, 2, 2, 1, 1, 1)
_WEEKEND_FACTOR = 0.25
_HOUR_MS = 3_600_000

Changes = dict[str, dict[str, Any]]
_Fields = dict[str, Any]


# ---------------------------------------------------------------------------------------------- objects
# Each builder returns the fields of one object as the product stores it, or a plausible edit of them.

def _hhmm(rng: random.Random, lo: int = 7, hi: int = 18) -> tuple[str, int]:
    hour = rng.randint(lo, hi)
    minute = rng.choice((0, 15, 30, 45))
    return f"{hour:02d}:{minute:02d}", hour * 60 + minute


def _day(rng: random.Random) -> str:
    return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _person(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    plain = last.lower().replace("ü", "ue").replace("ä", "ae").replace("ö", "oe")
    return f"{first} {last}", f"{first.lower()}.{plain}{rng.randint(1, 99)}@{rng.choice(_MAIL)}"


def _new_appointments(rng: random.Random, tenant: Tenant) -> _Fields:
    start, minutes = _hhmm(rng)
    end = minutes + rng.choice((30, 45, 60))
    return {"start": f"{_day(rng)}T{start}", "end": f"{end // 60:02d}:{end % 60:02d}",
            "worker_id": rng.choice(tenant.workers).id, "service": rng.choice(_SERVICES)}


def _edit_appointments(rng: random.Random, tenant: Tenant) -> Changes:
    kind = rng.random()
    if kind < 0.5:
        old, minutes = _hhmm(rng, 7, 16)
        moved = minutes + rng.choice((30, 60, 90, 120))
        return {"start": {"old": old, "new": f"{moved // 60:02d}:{moved % 60:02d}"}}
    if kind < 0.75:
        return {"status": {"old": "confirmed", "new": rng.choice(_STATUSES[1:])}}
    if kind < 0.9 and len(tenant.workers) > 1:
        a, b = rng.sample(tenant.workers, 2)
        return {"worker_id": {"old": a.id, "new": b.id}}
    return {"notes": {"old": "", "new": rng.choice(("Bitte Unterlagen mitbringen", "Rückruf erwünscht",
                                                   "Kunde kommt 10 min später"))}}


def _new_slots(rng: random.Random, tenant: Tenant) -> _Fields:
    start, _ = _hhmm(rng)
    return {"date": _day(rng), "start": start, "capacity": rng.choice((6, 8, 10, 12, 20)),
            "worker_id": rng.choice(tenant.workers).id, "is_active": True}


def _edit_slots(rng: random.Random, tenant: Tenant) -> Changes:
    if rng.random() < 0.6:
        capacity = rng.choice((6, 8, 10, 12))
        return {"capacity": {"old": capacity, "new": capacity + rng.choice((-2, 2, 4))}}
    if rng.random() < 0.5:
        return {"is_active": {"old": True, "new": False}}
    old, minutes = _hhmm(rng)
    return {"start": {"old": old, "new": f"{(minutes + 60) // 60:02d}:{minutes % 60:02d}"}}


def _new_services(rng: random.Random, tenant: Tenant) -> _Fields:
    return {"name": rng.choice(_SERVICES), "duration_min": rng.choice((15, 30, 45, 60, 90)),
            "price_chf": rng.choice(("45.00", "80.00", "120.00", "150.00")), "is_online": rng.random() < 0.3}


def _edit_services(rng: random.Random, tenant: Tenant) -> Changes:
    if rng.random() < 0.5:
        old = rng.choice((30, 45, 60))
        return {"duration_min": {"old": old, "new": old + 15}}
    old_price = rng.choice((45, 80, 120))
    return {"price_chf": {"old": f"{old_price}.00", "new": f"{old_price + rng.choice((5, 10, 15))}.00"}}


_SETTINGS_TOGGLES = ("booking.allow_cancellation", "notifications.sms_reminder", "notifications.email_confirmation",
                     "booking.require_phone", "widget.show_prices", "calendar.sync_outlook")


def _new_settings(rng: random.Random, tenant: Tenant) -> _Fields:
    return {rng.choice(_SETTINGS_TOGGLES): True}


def _edit_settings(rng: random.Random, tenant: Tenant) -> Changes:
    kind = rng.random()
    if kind < 0.6:
        old = rng.random() < 0.5
        return {rng.choice(_SETTINGS_TOGGLES): {"old": old, "new": not old}}
    if kind < 0.8:
        old_h = rng.choice((12, 24, 48))
        return {"booking.cancellation_deadline_h": {"old": old_h, "new": old_h * 2}}
    lang = rng.sample(("de", "en", "fr", "it"), 2)
    return {"general.language": {"old": lang[0], "new": lang[1]}}


def _new_workers(rng: random.Random, tenant: Tenant) -> _Fields:
    name, email = _person(rng)
    return {"name": name, "email": email, "roles": ["worker"], "is_bookable": True}


def _edit_workers(rng: random.Random, tenant: Tenant) -> Changes:
    worker = rng.choice(tenant.workers)
    if rng.random() < 0.5:
        return {"is_bookable": {"old": True, "new": False}}
    promoted = sorted({*worker.roles} ^ {"manager"})  # promote, or demote a manager
    return {"roles": {"old": list(worker.roles), "new": promoted or ["worker"]}}


def _new_customers(rng: random.Random, tenant: Tenant) -> _Fields:
    name, email = _person(rng)
    return {"name": name, "email": email, "phone": f"+41 7{rng.randint(5, 9)} {rng.randint(100, 999)} "
            f"{rng.randint(10, 99)} {rng.randint(10, 99)}", "newsletter": rng.random() < 0.3}


def _edit_customers(rng: random.Random, tenant: Tenant) -> Changes:
    if rng.random() < 0.6:
        _, old = _person(rng)
        _, new = _person(rng)
        return {"email": {"old": old, "new": new if new != old else "new." + new}}
    return {"newsletter": {"old": False, "new": True}}


def _new_booking_questions(rng: random.Random, tenant: Tenant) -> _Fields:
    return {"label": rng.choice(("Versicherungsnummer", "Grund des Besuchs", "Erster Besuch?")),
            "type": rng.choice(("text", "select", "checkbox")), "required": rng.random() < 0.5}


def _edit_booking_questions(rng: random.Random, tenant: Tenant) -> Changes:
    return {"required": {"old": False, "new": True}}


def _new_calendars(rng: random.Random, tenant: Tenant) -> _Fields:
    return {"provider": rng.choice(("google", "office365", "exchange")), "worker_id": rng.choice(tenant.workers).id}


def _edit_calendars(rng: random.Random, tenant: Tenant) -> Changes:
    return {"sync_direction": {"old": "one_way", "new": "two_way"}}


def _new_stores(rng: random.Random, tenant: Tenant) -> _Fields:
    return {"name": rng.choice(("Filiale Bahnhof", "Hauptsitz", "Standort Altstadt")),
            "zip": str(rng.randint(1000, 9658)), "city": rng.choice(("Zürich", "Bern", "Luzern", "Basel"))}


def _edit_stores(rng: random.Random, tenant: Tenant) -> Changes:
    return {"opening_hours.sat": {"old": "closed", "new": "09:00-13:00"}}


def _new_webhooks(rng: random.Random, tenant: Tenant) -> _Fields:
    # A secret in a created object: the redactor must mask it before it is shipped.
    return {"url": f"https://hooks.{tenant.slug}.example/booking", "events": ["appointment.created"],
            "secret": f"whsec_{rng.getrandbits(64):016x}"}


def _edit_webhooks(rng: random.Random, tenant: Tenant) -> Changes:
    return {"events": {"old": ["appointment.created"], "new": ["appointment.created", "appointment.cancelled"]}}


_Builders = tuple[Callable[[random.Random, Tenant], _Fields], Callable[[random.Random, Tenant], Changes]]
_BUILDERS: dict[str, _Builders] = {
    "appointments": (_new_appointments, _edit_appointments),
    "slots": (_new_slots, _edit_slots),
    "services": (_new_services, _edit_services),
    "settings": (_new_settings, _edit_settings),
    "workers": (_new_workers, _edit_workers),
    "customers": (_new_customers, _edit_customers),
    "booking_questions": (_new_booking_questions, _edit_booking_questions),
    "calendars": (_new_calendars, _edit_calendars),
    "stores": (_new_stores, _edit_stores),
    "webhooks": (_new_webhooks, _edit_webhooks),
}

#: Every source the fabricator uses ("login" carries the auth events).
SOURCES: tuple[str, ...] = tuple(_SOURCE_WEIGHTS)

_SINGULAR = {"appointments": "appointment", "slots": "slot", "services": "service", "settings": "settings",
             "workers": "worker", "customers": "customer", "booking_questions": "booking question",
             "calendars": "calendar", "stores": "store", "webhooks": "webhook"}
_VERB = {"create": "created", "update": "updated", "delete": "deleted"}


# ---------------------------------------------------------------------------------------------- time

class _Timeline:
    """Maps a uniform fraction of the total activity to a millisecond in [start, end)."""

    def __init__(self, start_ms: int, end_ms: int) -> None:
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.weights: list[float] = []
        self.cumulative: list[float] = []
        total = 0.0
        cursor = start_ms
        while cursor < end_ms:
            boundary = min(end_ms, (cursor // _HOUR_MS + 1) * _HOUR_MS)
            moment = datetime.fromtimestamp(cursor / 1000, UTC)
            weight = _HOUR_WEIGHTS[moment.hour] * (_WEEKEND_FACTOR if moment.weekday() >= 5 else 1.0)
            weight *= (boundary - cursor) / _HOUR_MS
            total += weight
            self.starts.append(cursor)
            self.lengths.append(boundary - cursor)
            self.weights.append(weight)
            self.cumulative.append(total)
            cursor = boundary
        self.total = total
        self.end_ms = end_ms

    def at(self, fraction: float) -> int:
        """Return the millisecond reached after ``fraction`` (0 <= f < 1) of the activity."""
        target = fraction * self.total
        k = min(bisect.bisect_right(self.cumulative, target), len(self.starts) - 1)
        before = self.cumulative[k] - self.weights[k]
        offset = int((target - before) / self.weights[k] * self.lengths[k]) if self.weights[k] else 0
        return min(self.starts[k] + max(offset, 0), self.end_ms - 1)


def _rfc3339(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _uuid7(ms: int, rng: random.Random) -> str:
    """A UUIDv7 for millisecond ``ms`` whose random bits come from the seeded generator."""
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _epoch_ms(moment: datetime, name: str) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC))")
    return int(moment.timestamp() * 1000)


# ---------------------------------------------------------------------------------------------- events

def _login_type(rng: random.Random, tenant: Tenant) -> str:
    sso_share = 0.6 if tenant.tier == "enterprise" else 0.15
    roll = rng.random()
    if roll < 0.12:
        return "api"
    return "sso" if roll < 0.12 + sso_share * 0.88 else "password"


def _source_ip(rng: random.Random, tenant: Tenant) -> str:
    if rng.random() < 0.8:
        return rng.choice(tenant.office_ips)
    if rng.random() < 0.7:  # home office / mobile: somewhere in a residential range
        return f"{rng.choice((178, 188, 212, 62))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return f"2a02:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.randint(1, 0xFFFF):x}"


def _changes(rng: random.Random, source: str, action: str, tenant: Tenant) -> Changes:
    build_new, build_edit = _BUILDERS[source]
    if action == "update":
        return build_edit(rng, tenant)
    fields = build_new(rng, tenant)
    if action == "create":
        return {name: {"old": None, "new": value} for name, value in fields.items()}
    return {name: {"old": value, "new": None} for name, value in fields.items()}


def _auth_event(rng: random.Random, worker: Worker, login_type: str) -> tuple[str, str, str]:
    """Return (outcome, url, message) of a sign-in; about 7% fail (wrong password, expired SSO session)."""
    outcome = "failure" if rng.random() < 0.07 else "success"
    url = {"password": f"{DASHBOARD}/login", "sso": f"{DASHBOARD}/sso/saml/callback",
           "api": f"{API}/auth/token"}[login_type]
    verb = "signed in" if outcome == "success" else "failed to sign in"
    return outcome, url, f"{worker.name} {verb} via {login_type}"


def fabricate(
    count: int,
    *,
    seed: int = 0,
    start: datetime,
    end: datetime,
    tenants: Sequence[Tenant] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` realistic audit events in time order, deterministically.

    Args:
        count: number of events.
        seed: seed of the random generator; the same arguments always give the same events.
        start: first possible ``@timestamp`` (inclusive, timezone-aware).
        end: end of the time range (exclusive, timezone-aware, after ``start``).
        tenants: tenants to act in (default ``DEFAULT_TENANTS``, every tier).

    Returns:
        An iterator of nested contract-v1 events (fresh dicts, the caller may modify them).

    Raises:
        ValueError: on a negative count, naive datetimes, ``end <= start`` or an empty tenant list.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    start_ms, end_ms = _epoch_ms(start, "start"), _epoch_ms(end, "end")
    if end_ms <= start_ms:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    chosen = tuple(DEFAULT_TENANTS if tenants is None else tenants)
    if not chosen or any(not t.workers for t in chosen):
        raise ValueError("tenants must be non-empty and every tenant needs at least one worker")
    return _generate(count, random.Random(seed), _Timeline(start_ms, end_ms), chosen)


def _generate(
    count: int, rng: random.Random, timeline: _Timeline, tenants: tuple[Tenant, ...]
) -> Iterator[dict[str, Any]]:
    tenant_cum = _cumulative([t.weight for t in tenants])
    sources = list(_SOURCE_WEIGHTS)
    source_cum = _cumulative(list(_SOURCE_WEIGHTS.values()))
    crud = [name for name, _ in _CRUD_WEIGHTS]
    crud_cum = _cumulative([w for _, w in _CRUD_WEIGHTS])
    for i in range(count):
        ms = timeline.at((i + rng.random()) / count)
        tenant = rng.choices(tenants, cum_weights=tenant_cum)[0]
        worker = rng.choice(tenant.workers)
        source = rng.choices(sources, cum_weights=source_cum)[0]
        login_type = _login_type(rng, tenant)
        audit: dict[str, Any] = {"source": source, "tier": tenant.tier}
        event: dict[str, Any] = {"id": _uuid7(ms, rng)}
        if source == "login":
            event["action"] = "auth"
            event["outcome"], url, message = _auth_event(rng, worker, login_type)
        else:
            action = event["action"] = rng.choices(crud, cum_weights=crud_cum)[0]
            changes = _changes(rng, source, action, tenant)
            audit["changes"] = changes
            object_id = rng.randint(1000, 999_999)
            url = f"{API if login_type == 'api' else DASHBOARD}/{source}/{object_id}"
            message = f"{worker.name} {_VERB[action]} {_SINGULAR[source]} {object_id}"
        audit["login_type"] = login_type
        agent_kind = "api" if login_type == "api" else ("app" if rng.random() < 0.3 else "browser")
        yield {
            "@timestamp": _rfc3339(ms),
            "event": event,
            "audit": audit,
            "organization": {"id": tenant.id, "name": tenant.name},
            "user": {"id": worker.id, "name": worker.name, "email": worker.email, "roles": list(worker.roles)},
            "source": {"ip": _source_ip(rng, tenant)},
            "url": {"full": url},
            "user_agent": {"original": rng.choice(_USER_AGENTS[agent_kind])},
            "message": message,
        }


def _cumulative(weights: Sequence[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return out


#: (object, key) -> the emitter's friendly keyword, from the contract definition's aliases (the action is the
#: logger method, the timestamp a top-level field).
_KEYWORDS: dict[tuple[str, str], str] = {
    (f.top, f.leaf): f.alias for f in CONTRACT if f.alias and f.leaf is not None and f.path != F.action
}


def emitter_call(event: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    """Turn a fabricated event into the app-style emitter call that writes it.

    ``verb, message, kwargs = emitter_call(event)`` then ``getattr(audit_logger, verb)(message, **kwargs)``
    is exactly how an application records the event (see agent.emitter.AuditLogger); fields the event
    lacks (``@timestamp``, ``event.id``) are filled by the emitter.

    Args:
        event: a nested event as :func:`fabricate` yields it.

    Returns:
        The logger method (``auth``/``create``/``update``/``delete``), the message and the keyword arguments.
    """
    kwargs: dict[str, Any] = {}
    for (group, key), keyword in _KEYWORDS.items():
        value = event.get(group, {}).get(key)
        if value is not None:
            kwargs[keyword] = value
    if "@timestamp" in event:
        kwargs["timestamp"] = event["@timestamp"]
    return event["event"]["action"], event.get("message"), kwargs
