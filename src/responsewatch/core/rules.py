"""The consultant's rules as pure values: who I am, who my clients are, the SLA, business hours."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import TYPE_CHECKING

from responsewatch.core.leave import LeaveRules

if TYPE_CHECKING:
    from responsewatch.core.models import Message

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

FREE_MAIL_EXACT = frozenset(
    {
        "gmail.com",
        "outlook.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "icloud.com",
        "wanadoo.fr",
        "proton.me",
        "protonmail.com",
        "sfr.fr",
    }
)
# hotmail.*, yahoo.*, gmx.*: any domain whose first label is one of these.
FREE_MAIL_FIRST_LABEL = frozenset({"hotmail", "yahoo", "gmx"})


@dataclass(frozen=True, slots=True)
class ClientRule:
    name: str
    domains: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    reply_within_s: float | None = None
    warn_at_s: float | None = None
    mission_start: date | None = None
    mission_length_days: int | None = None
    report_every_s: float | None = None  # None: sla.report_every; 0: no cadence


@dataclass(frozen=True, slots=True)
class Sla:
    reply_within_s: float = 86400.0
    warn_at_s: float = 64800.0
    clock: str = "calendar"  # calendar | business
    count_cc: bool = False
    report_every_s: float | None = None  # default reporting cadence; None: no cadence


@dataclass(frozen=True, slots=True)
class LeavePeriod:
    start: date  # inclusive
    end: date  # inclusive


@dataclass(frozen=True, slots=True)
class BusinessHours:
    timezone: str = "Europe/Paris"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    start: time = time(9, 0)
    end: time = time(18, 0)
    holidays_country: str | None = None
    holidays_subdivision: str | None = None
    leave: tuple[LeavePeriod, ...] = ()


@dataclass(frozen=True, slots=True)
class Rules:
    me: frozenset[str]
    clients: tuple[ClientRule, ...] = ()
    sla: Sla = field(default_factory=Sla)
    hours: BusinessHours = field(default_factory=BusinessHours)
    leave: LeaveRules = field(default_factory=LeaveRules)


def is_free_mail(domain: str) -> bool:
    return domain in FREE_MAIL_EXACT or domain.split(".", 1)[0] in FREE_MAIL_FIRST_LABEL


class ClientDirectory:
    """Maps an address to its client: the most specific rule wins.

    An explicit address beats any domain; a longer (more specific) domain beats a
    shorter one; a domain rule also matches its subdomains. With no client
    configured every address other than mine is a *correspondent*, named after
    its domain, or after the full address for free-mail domains.
    """

    __slots__ = ("_by_address", "_by_domain", "_cache", "_correspondents", "_me")

    def __init__(self, rules: Rules) -> None:
        self._me = rules.me
        self._by_address: dict[str, str] = {}
        self._by_domain: dict[str, str] = {}
        for client in rules.clients:
            for addr in client.addresses:
                self._by_address.setdefault(addr.lower(), client.name)
            for dom in client.domains:
                self._by_domain.setdefault(dom.lower().strip(".").lstrip("@"), client.name)
        self._correspondents = not rules.clients
        self._cache: dict[str, str | None] = {}

    def client_of(self, address: str | None) -> str | None:
        if not address or address in self._me:
            return None
        try:
            return self._cache[address]
        except KeyError:
            pass
        found = self._lookup(address)
        self._cache[address] = found
        return found

    def _lookup(self, address: str) -> str | None:
        domain = address.rpartition("@")[2]
        if self._correspondents:
            if not domain:
                return address or None
            return address if is_free_mail(domain) else domain
        if address in self._by_address:
            return self._by_address[address]
        labels = domain.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self._by_domain:
                return self._by_domain[candidate]
        return None


def client_of_message(msg: Message, rules: Rules, directory: ClientDirectory) -> str | None:
    """The client of a DESIGN.md *client message* (from a client, not automated, one of my
    addresses in To, or Cc with ``sla.count_cc``), else None. Cadence and insights read it."""
    if msg.automated or msg.from_addr is None or msg.from_addr in rules.me:
        return None
    client = directory.client_of(msg.from_addr)
    if client is None:
        return None
    if not rules.me.isdisjoint(msg.to):
        return client
    if rules.sla.count_cc and not rules.me.isdisjoint(msg.cc):
        return client
    return None
