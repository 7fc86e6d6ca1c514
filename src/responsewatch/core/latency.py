"""Conversations -> client turns, my replies, awaiting turns and per-client statistics.

DESIGN.md "Who must answer whom" and "Precise readings" are implemented literally.
Pure: the caller passes ``now``, the business clock and the acknowledgements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from responsewatch.core.absence import client_absences, my_leave
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.cadence import cadences
from responsewatch.core.forged import is_suspicious
from responsewatch.core.leave import NO_LEAVE, Leave
from responsewatch.core.models import (
    Acknowledged,
    Analysis,
    Awaiting,
    ClientReply,
    ClientStats,
    Conversation,
    Message,
    Reply,
    Totals,
    TurnState,
    message_time,
)
from responsewatch.core.rules import ClientDirectory, ClientRule, Rules
from responsewatch.core.stats import median, percentile
from responsewatch.core.subjects import is_forward_subject

__all__ = ["analyze", "state_for", "thresholds_of"]

_TIME_THEN_ID = itemgetter(0, 1)


@dataclass(slots=True)
class _OpenTurn:
    client: str
    first: Message
    since: datetime
    message_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _MyTurn:
    first: Message
    since: datetime


@dataclass(frozen=True, slots=True)
class _Thresholds:
    reply_within_s: float
    warn_at_s: float


def thresholds_of(rules: Rules, client: str) -> _Thresholds:
    """The client's (reply_within, warn_at): its own, else the SLA's."""
    sla = rules.sla
    rule = {c.name: c for c in rules.clients}.get(client)
    within = rule.reply_within_s if rule and rule.reply_within_s is not None else None
    warn = rule.warn_at_s if rule and rule.warn_at_s is not None else None
    return _Thresholds(
        within if within is not None else sla.reply_within_s,
        warn if warn is not None else sla.warn_at_s,
    )


def state_for(age_s: float, limits: _Thresholds) -> TurnState:
    if age_s >= limits.reply_within_s:
        return TurnState.OVERDUE
    if age_s >= limits.warn_at_s:
        return TurnState.DUE_SOON
    return TurnState.OK


class _Analyzer:
    def __init__(
        self,
        rules: Rules,
        clock: BusinessClock,
        now: datetime,
        acks: Mapping[str, datetime],
        leave: Leave = NO_LEAVE,
        absences: Mapping[str, Leave] | None = None,
    ) -> None:
        self.rules = rules
        # DESIGN "Leave and absences": my leave pauses my clocks (``clock`` has it cut out
        # already), a client's announced absence pauses theirs.
        self.leave = leave
        self.absences = absences or {}
        self.me = rules.me
        self.directory = ClientDirectory(rules)
        self.clock = clock
        self.now = now
        self.acks = acks
        self.by_name: dict[str, ClientRule] = {c.name: c for c in rules.clients}
        self._limits: dict[str, _Thresholds] = {}
        self.client_messages: dict[str, int] = defaultdict(int)
        self.replies: list[Reply] = []
        self.awaiting: list[Awaiting] = []
        self.acknowledged: list[Acknowledged] = []
        self.client_replies: list[ClientReply] = []
        self.my_turns: dict[str, int] = defaultdict(int)

    def limits(self, client: str) -> _Thresholds:
        found = self._limits.get(client)
        if found is None:
            found = self._limits[client] = self._limits_of(client)
        return found

    def _limits_of(self, client: str) -> _Thresholds:
        return thresholds_of(self.rules, client)

    def _is_client_message(self, msg: Message) -> str | None:
        if msg.automated or msg.from_addr is None or msg.from_addr in self.me:
            return None
        client = self.directory.client_of(msg.from_addr)
        if client is None:
            return None
        if not self.me.isdisjoint(msg.to):
            return client
        if self.rules.sla.count_cc and not self.me.isdisjoint(msg.cc):
            return client
        return None

    def _addressed_clients(self, msg: Message) -> set[str]:
        found: set[str] = set()
        for address in (*msg.to, *msg.cc):
            client = self.directory.client_of(address)
            if client is not None:
                found.add(client)
        return found

    def _acked_at(self, turn: _OpenTurn) -> datetime | None:
        # An acknowledgement older than the turn cannot be about it (a clock skew, a --now
        # in the past): it is ignored rather than closing the turn before it opened.
        times = [
            t for m in turn.message_ids if m in self.acks and (t := self.acks[m]) >= turn.since
        ]
        return min(times) if times else None

    def _close_acked(
        self, thread_id: str, open_turns: dict[str, _OpenTurn], before: datetime | None
    ) -> None:
        for client, turn in list(open_turns.items()):
            at = self._acked_at(turn)
            if at is not None and (before is None or at <= before):
                self.acknowledged.append(
                    Acknowledged(thread_id, client, turn.first.message_id, turn.since, at)
                )
                del open_turns[client]

    def conversation(self, conv: Conversation, messages: Sequence[Message]) -> None:
        dated: list[tuple[datetime, str, Message, str | None]] = []
        for msg in messages:
            if msg.warnings and is_suspicious(msg, self.me):
                continue  # "from me" but failed my domain's authentication: not mine
            client = self._is_client_message(msg)
            if client is not None:
                self.client_messages[client] += 1
            when = message_time(msg, self.me)
            if when is not None:
                dated.append((when, msg.message_id, msg, client))
        dated.sort(key=_TIME_THEN_ID)
        open_turns: dict[str, _OpenTurn] = {}
        my_open: dict[str, _MyTurn] = {}
        for when, _mid, msg, client in dated:
            if self.acks and open_turns:
                self._close_acked(conv.thread_id, open_turns, when)
            if client is not None:
                self._client_message(conv, client, msg, when, open_turns, my_open)
            elif msg.from_addr is not None and msg.from_addr in self.me and not msg.automated:
                self._my_message(conv, msg, when, open_turns, my_open)
        if self.acks and open_turns:
            self._close_acked(conv.thread_id, open_turns, None)
        for client, turn in open_turns.items():
            self._await(conv, client, turn)

    def _client_message(
        self,
        conv: Conversation,
        client: str,
        msg: Message,
        when: datetime,
        open_turns: dict[str, _OpenTurn],
        my_open: dict[str, _MyTurn],
    ) -> None:
        mine = my_open.pop(client, None)
        if mine is not None:
            # The client's reply to my turn: their next client message, thanks-only included.
            self.client_replies.append(
                ClientReply(
                    conv.thread_id,
                    client,
                    mine.first.message_id,
                    msg.message_id,
                    mine.since,
                    when,
                    self.absences.get(client, NO_LEAVE).calendar_seconds(mine.since, when),
                )
            )
        if msg.thanks_only:
            return
        turn = open_turns.get(client)
        if turn is None:
            open_turns[client] = _OpenTurn(client, msg, when, [msg.message_id])
        else:
            turn.message_ids.append(msg.message_id)

    def _my_message(
        self,
        conv: Conversation,
        msg: Message,
        when: datetime,
        open_turns: dict[str, _OpenTurn],
        my_open: dict[str, _MyTurn],
    ) -> None:
        addressed = self._addressed_clients(msg)
        if not addressed:
            return
        if not is_forward_subject(msg.subject):
            for client in sorted(addressed):
                turn = open_turns.get(client)
                if turn is not None and when > turn.since:
                    self._reply(conv, turn, msg, when)
                    del open_turns[client]
        for client in addressed:
            if client not in my_open:
                my_open[client] = _MyTurn(msg, when)
                self.my_turns[client] += 1

    def _reply(self, conv: Conversation, turn: _OpenTurn, msg: Message, when: datetime) -> None:
        latency = self.leave.calendar_seconds(turn.since, when)
        business = self.clock.seconds_between(turn.since, when)
        limits = self.limits(turn.client)
        on_clock = business if self.rules.sla.clock == "business" else latency
        self.replies.append(
            Reply(
                thread_id=conv.thread_id,
                client=turn.client,
                message_id=turn.first.message_id,
                reply_message_id=msg.message_id,
                received_at=turn.since,
                replied_at=when,
                latency_seconds=latency,
                business_latency_seconds=business,
                within_sla=on_clock <= limits.reply_within_s,
                after_hours=not self.clock.is_business_time(when),
            )
        )

    def _await(self, conv: Conversation, client: str, turn: _OpenTurn) -> None:
        age = self.leave.calendar_seconds(turn.since, self.now)
        business = self.clock.seconds_between(turn.since, self.now)
        on_clock = business if self.rules.sla.clock == "business" else age
        if self.leave.contains(self.now):
            state = TurnState.ON_LEAVE
        else:
            state = state_for(on_clock, self.limits(client))
        self.awaiting.append(
            Awaiting(
                thread_id=conv.thread_id,
                client=client,
                subject=turn.first.subject,
                first_unanswered_message_id=turn.first.message_id,
                since=turn.since,
                age_seconds=age,
                business_age_seconds=business,
                state=state,
                message_ids=tuple(turn.message_ids),
            )
        )

    def client_stats(self) -> tuple[ClientStats, ...]:
        replies: dict[str, list[Reply]] = defaultdict(list)
        for reply in self.replies:
            replies[reply.client].append(reply)
        awaiting: dict[str, list[Awaiting]] = defaultdict(list)
        for turn in self.awaiting:
            awaiting[turn.client].append(turn)
        acked: dict[str, int] = defaultdict(int)
        for ack in self.acknowledged:
            acked[ack.client] += 1
        theirs: dict[str, list[float]] = defaultdict(list)
        for client_reply in self.client_replies:
            theirs[client_reply.client].append(client_reply.latency_seconds)
        if self.rules.clients:
            names = {c.name for c in self.rules.clients}
        else:
            names = {n for n, count in self.client_messages.items() if count} | {
                n for n, count in self.my_turns.items() if count
            }
        out: list[ClientStats] = []
        for name in sorted(names):
            mine = replies.get(name, [])
            waiting = awaiting.get(name, [])
            latencies = [r.latency_seconds for r in mine]
            within = sum(1 for r in mine if r.within_sla)
            overdue = sum(1 for a in waiting if a.state is TurnState.OVERDUE)
            out.append(
                ClientStats(
                    client=name,
                    client_messages=self.client_messages.get(name, 0),
                    turns=len(mine) + len(waiting) + acked.get(name, 0),
                    replied=len(mine),
                    replied_within_sla=within,
                    acknowledged=acked.get(name, 0),
                    awaiting=len(waiting),
                    overdue=overdue,
                    breaches=(len(mine) - within) + overdue,
                    median_reply_seconds=median(latencies),
                    p90_reply_seconds=percentile(latencies, 0.9),
                    median_business_reply_seconds=median(
                        [r.business_latency_seconds for r in mine]
                    ),
                    after_hours_replies=sum(1 for r in mine if r.after_hours),
                    my_turns=self.my_turns.get(name, 0),
                    client_replied=len(theirs.get(name, [])),
                    client_median_reply_seconds=median(theirs.get(name, [])),
                )
            )
        return tuple(out)


def analyze(
    messages: Mapping[str, Message],
    conversations: Iterable[Conversation],
    rules: Rules,
    *,
    now: datetime,
    clock: BusinessClock,
    acks: Mapping[str, datetime] | None = None,
) -> Analysis:
    """Turns, replies and statistics of every conversation, as of ``now``."""
    leave = my_leave(messages, rules) if rules.leave.configured or rules.hours.leave else NO_LEAVE
    working = clock.with_leave(leave)
    analyzer = _Analyzer(rules, working, now, acks or {}, leave, client_absences(messages, rules))
    conversation_count = 0
    for conv in conversations:
        conversation_count += 1
        analyzer.conversation(conv, [messages[m] for m in conv.message_ids])
    undated = sum(1 for m in messages.values() if message_time(m, rules.me) is None)
    stats = analyzer.client_stats()
    return Analysis(
        now=now,
        reply_within_seconds=rules.sla.reply_within_s,
        warn_at_seconds=rules.sla.warn_at_s,
        clock=rules.sla.clock,
        totals=Totals(
            messages=len(messages),
            conversations=conversation_count,
            automated=sum(1 for m in messages.values() if m.automated),
            undated=undated,
            suspicious=sum(
                1 for m in messages.values() if m.warnings and is_suspicious(m, rules.me)
            ),
        ),
        clients=stats,
        awaiting=tuple(sorted(analyzer.awaiting, key=lambda a: (a.since, a.thread_id, a.client))),
        replies=tuple(
            sorted(analyzer.replies, key=lambda r: (r.received_at, r.thread_id, r.client))
        ),
        client_replies=tuple(
            sorted(analyzer.client_replies, key=lambda r: (r.sent_at, r.thread_id, r.client))
        ),
        acknowledged=tuple(analyzer.acknowledged),
        cadence=cadences(
            messages,
            rules,
            analyzer.replies,
            clients=(c.client for c in stats),
            now=now,
            # DESIGN "Reporting cadence": my leave pauses the cadence as it pauses my clocks.
            clock=working,
            paused=leave.periods(),
        ),
        leave=leave.periods(),
    )
