"""Value objects of the domain: small, frozen, slotted dataclasses (UTC-aware times)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date as _date
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Message:
    """Header-level facts of one e-mail, as kept in the store.

    ``message_id`` has no angle brackets; a message without one gets
    ``sha256:<hex of its raw header block>``. ``date`` is the Date header,
    ``arrival`` the time the mailbox received it (INTERNALDATE, Graph
    receivedDateTime, topmost ``Received:`` for files). Which one is *the*
    time of the message depends on who sent it (see :func:`message_time`).
    """

    message_id: str
    from_addr: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    arrival: datetime | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    thread_index_guid: str | None = None
    provider_thread: str | None = None
    automated: bool = False
    auto_reply: bool = False
    thanks_only: bool = False
    warnings: tuple[str, ...] = ()
    # Out-of-office replies only: the absence their text announces, local dates (first or
    # None, last), both inclusive (core.absence).
    absence: tuple[_date | None, _date] | None = None

    @property
    def participants(self) -> frozenset[str]:
        people = set(self.to) | set(self.cc)
        if self.from_addr:
            people.add(self.from_addr)
        return frozenset(people)


def message_time(msg: Message, me: frozenset[str]) -> datetime | None:
    """The instant a message counts at: Date for mine, arrival for others, each falling back."""
    if msg.from_addr is not None and msg.from_addr in me:
        return msg.date or msg.arrival
    return msg.arrival or msg.date


@dataclass(frozen=True, slots=True)
class Conversation:
    thread_id: str
    message_ids: tuple[str, ...]


class TurnState(StrEnum):
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ON_LEAVE = "on_leave"  # my leave pauses the clock at `now` (DESIGN "Leave and absences")


@dataclass(frozen=True, slots=True)
class Awaiting:
    thread_id: str
    client: str
    subject: str
    first_unanswered_message_id: str
    since: datetime
    age_seconds: float
    business_age_seconds: float
    state: TurnState
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    thread_id: str
    client: str
    message_id: str
    reply_message_id: str
    received_at: datetime
    replied_at: datetime
    latency_seconds: float
    business_latency_seconds: float
    within_sla: bool
    after_hours: bool


@dataclass(frozen=True, slots=True)
class Acknowledged:
    thread_id: str
    client: str
    message_id: str
    since: datetime
    acknowledged_at: datetime


@dataclass(frozen=True, slots=True)
class ClientReply:
    thread_id: str
    client: str
    message_id: str
    reply_message_id: str
    sent_at: datetime
    replied_at: datetime
    latency_seconds: float


@dataclass(frozen=True, slots=True)
class ClientStats:
    client: str
    client_messages: int
    turns: int
    replied: int
    replied_within_sla: int
    acknowledged: int
    awaiting: int
    overdue: int
    breaches: int
    median_reply_seconds: float | None
    p90_reply_seconds: float | None
    median_business_reply_seconds: float | None
    after_hours_replies: int
    my_turns: int
    client_replied: int
    client_median_reply_seconds: float | None


@dataclass(frozen=True, slots=True)
class Totals:
    messages: int
    conversations: int
    automated: int
    undated: int
    suspicious: int = 0  # claimed to be from me, failed my domain's authentication


@dataclass(frozen=True, slots=True)
class ClientCadence:
    """A client's reporting cadence as of ``now`` (DESIGN.md "Reporting cadence").

    ``late_gaps``: the (start, end) of every gap longer than ``report_every_s`` in the
    mission window, the current one (ending at ``now``) included; ``updates_late`` is their
    number. ``window_start`` is None when the cadence has not started (no mission_start and
    no contact yet)."""

    client: str
    report_every_s: float
    last_update_at: datetime | None
    update_due_at: datetime | None
    updates_late: int
    late: bool  # now is past update_due_at
    updates: int  # proactive updates inside the mission window, up to now
    window_start: datetime | None
    window_end: datetime | None  # None: no planned end
    late_gaps: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the JSON contract of ``analyze``/``report`` prints."""

    now: datetime
    reply_within_seconds: float
    warn_at_seconds: float
    clock: str
    totals: Totals
    clients: tuple[ClientStats, ...]
    awaiting: tuple[Awaiting, ...]
    replies: tuple[Reply, ...]
    client_replies: tuple[ClientReply, ...]
    acknowledged: tuple[Acknowledged, ...] = field(default=())
    cadence: tuple[ClientCadence, ...] = field(default=())  # only clients with report_every
    # My merged leave periods [start, end) in UTC (not in the JSON; the nudges read them).
    leave: tuple[tuple[datetime, datetime], ...] = field(default=())
