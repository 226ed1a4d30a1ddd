"""Subscription tiers, retention classes and daily index names: the one source of truth.

ARCHITECTURE.md's table as data. Every part that needs to know where an event lives or how long it
is kept (the agent's router, templates, ILM policies, the retention enforcer, the TUI's customer view)
reads it from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

DEFAULT_PREFIX = "audit"

_DAY_STAMP = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})", re.ASCII)

#: A day stamp as :meth:`TierTable.index_for_day` writes it, in Lucene's regular expression syntax (what
#: Elasticsearch takes between slashes in a role's ``names``): four digits, a month 01-12 and a day 01-31. No
#: calendar: ``2026.02.30`` matches, but no agent names it (its router only names days that exist) and
#: :meth:`TierTable.parse_index` refuses it. ``[0-9]``, not ``\d``: both are ASCII digits to Lucene, but the
#: class says so to every reader.
DAY_STAMP_REGEX = r"[0-9]{4}\.(0[1-9]|1[0-2])\.(0[1-9]|[12][0-9]|3[01])"

#: Environment variable naming the index namespace for every command (``--prefix`` wins).
PREFIX_ENV = "AUDITLOG_INDEX_PREFIX"

#: what separates a prefix from a digest index's class: ``audit.digest-enterprise-2026.12.02``
DIGEST_INFIX = ".digest"

#: retention class -> days an index is kept, counted from the date in its name.
RETENTION_DAYS: dict[str, int] = {"enterprise": 30, "business": 7, "professional": 3}

#: subscription tier -> retention class. ``basic`` is configurable (see ``TierTable``).
DEFAULT_TIER_CLASSES: dict[str, str] = {
    "enterprise": "enterprise",
    "business": "business",
    "whitelabel": "business",
    "professional": "professional",
    "flatrate": "professional",
    "basic": "professional",
}

#: tiers whose tenants may use the customer view (the seed's dashboard is Enterprise-only).
CUSTOMER_VIEW_TIERS: frozenset[str] = frozenset({"enterprise"})


def lucene_regex_literal(text: str) -> str:
    """Escape ``text`` so that a Lucene regular expression matches it, and only it, literally (pure).

    Every character but an ASCII letter or digit, ``-`` or ``_`` gets a backslash, which Lucene reads as "this
    character": a prefix may hold ``.``, ``+``, ``(``, ``[``, ``{``, ``@`` (any string), ``&`` (intersection),
    ``~`` (complement) and more that Lucene gives a meaning; ``-`` and ``_`` mean nothing outside a ``[...]``
    class, so the common names stay readable (``audit-enterprise-...``). Letters never get one: ``\\d``,
    ``\\w`` and ``\\s`` (and their capitals) are character classes to Lucene.

    Args:
        text: any text, e.g. an index prefix.

    Returns:
        The regular expression (without the slashes a role's ``names`` puts around it).
    """
    return "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "\\" + c for c in text)


#: How a day stamp looks to a person, in lines that name a daily index's shape.
DAY_SHAPE = "YYYY.MM.DD"


def _day_regex(head: str) -> str:
    """Every name of ``head`` followed by a day stamp, as a role's Lucene regular expression (slashes included)."""
    return f"/{lucene_regex_literal(head)}{DAY_STAMP_REGEX}/"


class UnknownTierError(ValueError):
    """An event names a tier that the table does not know."""


#: characters Elasticsearch refuses in an index name (and ':' it refuses since 7.0)
_INDEX_NAME_FORBIDDEN = frozenset('\\/*?"<>| ,#:')
#: bytes left for the prefix in a 255-byte index name after "-digest-enterprise-YYYY.MM.DD" and a margin
MAX_PREFIX_BYTES = 200


def _prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot start index names (Elasticsearch's rules, and text a terminal can show), or None."""
    if not prefix:
        return "must not be empty"
    if prefix != prefix.lower():
        return "must be lowercase"
    if prefix[0] in "-_+.":
        return "must not start with '-', '_', '+' or '.'"
    if not prefix.isprintable() or not _INDEX_NAME_FORBIDDEN.isdisjoint(prefix):
        return "must be printable without spaces or any of \\ / * ? \" < > | , # :"
    if len(prefix.encode("utf-8")) > MAX_PREFIX_BYTES:  # printable: no lone surrogates, so it encodes
        return f"must be at most {MAX_PREFIX_BYTES} bytes"
    # Another namespace's patterns would cover this one's indices: "audit"'s "audit-enterprise-*" matches every
    # index of "audit-enterprise-eu", and "audit"'s "audit.digest-enterprise-*" every event index of "audit.digest".
    parts = prefix.split("-")
    if any(part in RETENTION_DAYS for part in parts[1:]) or prefix.endswith(DIGEST_INFIX):
        return (f"must not have a retention class ({', '.join(RETENTION_DAYS)}) as a '-' part after the first, nor "
                f"end in '{DIGEST_INFIX}' (another namespace's index patterns would cover its indices)")
    return None


@dataclass(frozen=True)
class TierTable:
    """Tier -> class -> index mapping for one index namespace (``prefix``)."""

    prefix: str = DEFAULT_PREFIX
    classes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TIER_CLASSES))

    def __post_init__(self) -> None:
        for tier, cls in self.classes.items():
            if cls not in RETENTION_DAYS:
                raise ValueError(f"tier {tier!r} maps to unknown retention class {cls!r}")
        reason = _prefix_problem(self.prefix)
        if reason is not None:
            raise ValueError(f"index prefix {reason}: {self.prefix.encode('utf-8', 'backslashreplace').decode()!r}")

    @classmethod
    def with_basic_class(cls, basic_class: str, prefix: str = DEFAULT_PREFIX) -> TierTable:
        """Build the default table with ``basic`` routed to ``basic_class``.

        Args:
            basic_class: retention class for the ``basic`` tier.
            prefix: index namespace.

        Returns:
            The table.

        Raises:
            ValueError: when ``basic_class`` is not a retention class.
        """
        classes = dict(DEFAULT_TIER_CLASSES)
        classes["basic"] = basic_class
        return cls(prefix=prefix, classes=classes)

    def class_of(self, tier: str) -> str:
        """Return the retention class of ``tier``.

        Raises:
            UnknownTierError: when the tier is not in the table.
        """
        try:
            return self.classes[tier]
        except KeyError:
            raise UnknownTierError(f"unknown tier {tier!r} (known: {', '.join(sorted(self.classes))})") from None

    def index_for_day(self, cls: str, day: date) -> str:
        """Return the daily index name of retention class ``cls`` for ``day`` (UTC); the year always has four digits."""
        # not strftime("%Y"): it writes year 999 as "999", which parse_index could not read back
        return f"{self.prefix}-{cls}-{day.year:04d}.{day.month:02d}.{day.day:02d}"

    def index_for(self, tier: str, timestamp: datetime) -> str:
        """Return the index an event of ``tier`` at ``timestamp`` belongs to (its UTC day).

        Raises:
            UnknownTierError: when the tier is not in the table.
        """
        return self.index_for_day(self.class_of(tier), timestamp.astimezone(UTC).date())

    def class_pattern(self, cls: str) -> str:
        """Return the index pattern of one retention class, e.g. ``audit-enterprise-*``."""
        return f"{self.prefix}-{cls}-*"

    @property
    def read_patterns(self) -> tuple[str, ...]:
        """The event indices' patterns, one per retention class, e.g. ``audit-enterprise-*``.

        Never ``audit-*``: that would also cover every other namespace whose prefix starts with ``audit-``
        (``audit-staging-enterprise-...``): a key granted it could read and write there, and a search would
        mix that namespace's events (and its digests) into this one's. :func:`_prefix_problem` refuses the
        prefixes these patterns could still cover.
        """
        return tuple(self.class_pattern(cls) for cls in RETENTION_DAYS)

    def daily_head(self, cls: str) -> str:
        """Return what every daily index name of class ``cls`` starts with: ``audit-enterprise-``."""
        return f"{self.prefix}-{cls}-"

    def daily_regex(self, cls: str) -> str:
        """Return every daily index name of class ``cls`` as a Lucene regular expression for a role's ``names``.

        E.g. ``/audit-enterprise-[0-9]{4}\\.(0[1-9]|1[0-2])\\.(0[1-9]|[12][0-9]|3[01])/``: the names
        :meth:`index_for_day` makes, where :meth:`class_pattern` also covers ``audit-enterprise-evil``.
        """
        return _day_regex(self.daily_head(cls))

    @property
    def daily_regexes(self) -> tuple[str, ...]:
        """:meth:`daily_regex` of each retention class, in the order of :attr:`read_patterns`."""
        return tuple(self.daily_regex(cls) for cls in RETENTION_DAYS)

    def daily_shape(self, cls: str) -> str:
        """Return how a daily index name of class ``cls`` looks, for people: ``audit-enterprise-YYYY.MM.DD``."""
        return self.daily_head(cls) + DAY_SHAPE

    @property
    def read_pattern(self) -> str:
        """The :attr:`read_patterns` as one index expression for a request, e.g. ``audit-enterprise-*,...``."""
        return ",".join(self.read_patterns)

    def digest_index_for_day(self, cls: str, day: date) -> str:
        """Return the daily digest index of class ``cls`` for ``day``, e.g. ``audit.digest-enterprise-2026.12.02``.

        Digests (signed lists of event hashes, :mod:`indexer.integrity`) live beside the events but
        outside :attr:`read_pattern`, so lists, facets, exports and Kibana never show them as events.
        """
        return f"{self.prefix}{DIGEST_INFIX}-{cls}-{day:%Y.%m.%d}"

    @property
    def digest_patterns(self) -> tuple[str, ...]:
        """The digest indices' patterns, one per retention class, e.g. ``audit.digest-enterprise-*``."""
        return tuple(f"{self.prefix}{DIGEST_INFIX}-{cls}-*" for cls in RETENTION_DAYS)

    def digest_daily_head(self, cls: str) -> str:
        """Return what every daily digest index name of class ``cls`` starts with: ``audit.digest-enterprise-``."""
        return f"{self.prefix}{DIGEST_INFIX}-{cls}-"

    def digest_daily_regex(self, cls: str) -> str:
        """Return every daily digest index name of class ``cls`` as a Lucene regular expression (like daily_regex)."""
        return _day_regex(self.digest_daily_head(cls))

    @property
    def digest_daily_regexes(self) -> tuple[str, ...]:
        """:meth:`digest_daily_regex` of each retention class, in the order of :attr:`digest_patterns`."""
        return tuple(self.digest_daily_regex(cls) for cls in RETENTION_DAYS)

    def digest_daily_shape(self, cls: str) -> str:
        """Return how a daily digest index name of class ``cls`` looks: ``audit.digest-enterprise-YYYY.MM.DD``."""
        return self.digest_daily_head(cls) + DAY_SHAPE

    @property
    def digest_pattern(self) -> str:
        """The :attr:`digest_patterns` as one index expression for a request."""
        return ",".join(self.digest_patterns)

    def parse_digest_index(self, index: str) -> tuple[str, date] | None:
        """Split a digest index name into (class, day); ``None`` when it is not one of ours."""
        head = f"{self.prefix}{DIGEST_INFIX}-"
        if not index.startswith(head):
            return None
        return self.parse_index(f"{self.prefix}-{index[len(head):]}")

    def parse_index(self, index: str) -> tuple[str, date] | None:
        """Split a daily index name into (class, day); ``None`` when it is not one of ours."""
        head = f"{self.prefix}-"
        if not index.startswith(head):
            return None
        cls, _, stamp = index[len(head):].rpartition("-")
        if cls not in RETENTION_DAYS:
            return None
        m = _DAY_STAMP.fullmatch(stamp)
        if m is None:
            return None
        try:
            return cls, date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:  # a day that does not exist, e.g. 2026.02.30
            return None
