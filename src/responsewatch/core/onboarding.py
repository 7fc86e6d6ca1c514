"""Client proposals for ``init``: who I write to most, from the headers of my sent mail.

Pure: the caller fetches the messages and passes ``since``. A correspondent is a domain,
or a full address on free-mail domains (as in the report without ``[[clients]]``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from responsewatch.core.classify import is_robot_address
from responsewatch.core.models import Message
from responsewatch.core.rules import is_free_mail

__all__ = ["ClientProposal", "client_name", "propose_clients"]

# A domain label as DNS allows it; anything else in a header is noise or an attack.
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Addresses that are never a client even without a noreply-style local part.
_SERVICE_LOCAL = re.compile(
    r"^(?:bounces?|mailer-daemon|postmaster|notifications?|calendar|invitations?|"
    r"support|billing|invoices?|facturation|newsletter)(?:[+.-].*)?$"
)


@dataclass(frozen=True, slots=True)
class ClientProposal:
    key: str  # a domain, or a full address on a free-mail domain
    is_address: bool
    messages: int  # my sent messages addressed (To/Cc) to this correspondent


def _correspondent(address: str) -> tuple[str, bool] | None:
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local or not _DOMAIN.match(domain):
        return None
    if is_robot_address(address.lower()) or _SERVICE_LOCAL.match(local):
        return None
    if is_free_mail(domain):
        return f"{local}@{domain}", True
    return domain, False


def _mine(domain: str, my_domains: frozenset[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in my_domains)


def propose_clients(
    messages: Iterable[Message],
    *,
    me: frozenset[str],
    since: datetime,
    limit: int = 20,
) -> list[ClientProposal]:
    """Top correspondents of my sent mail since ``since``, most messages first.

    Excludes my own addresses and (non-free-mail) domains, automated messages and
    auto-replies, and robot-style recipients (noreply@, notifications@ ...).
    """
    my_domains = frozenset(
        d for d in (a.rpartition("@")[2].lower() for a in me) if d and not is_free_mail(d)
    )
    counts: Counter[tuple[str, bool]] = Counter()
    for msg in messages:
        when = msg.date or msg.arrival
        if when is None or when < since or msg.automated or msg.auto_reply:
            continue
        if msg.from_addr is not None and msg.from_addr.lower() not in me:
            continue  # not sent by me (a Sent folder may hold drafts or copies of others')
        keys: set[tuple[str, bool]] = set()
        for address in (*msg.to, *msg.cc):
            if address.lower() in me:
                continue
            found = _correspondent(address)
            if found is None:
                continue
            key, is_address = found
            if not is_address and _mine(key, my_domains):
                continue
            keys.add(found)
        counts.update(keys)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0]))
    return [ClientProposal(key, is_addr, n) for (key, is_addr), n in ranked[:limit]]


def client_name(proposal: ClientProposal) -> str:
    """A default client name: ``acme-industries.fr`` -> ``Acme Industries``."""
    if proposal.is_address:
        local = proposal.key.partition("@")[0]
        words = re.split(r"[._-]+", local)
    else:
        labels = proposal.key.split(".")
        words = re.split(r"[-_]+", labels[-2] if len(labels) >= 2 else labels[0])
    name = " ".join(w.capitalize() for w in words if w)
    return name or proposal.key
