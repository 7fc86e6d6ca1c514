"""Nudges: which warnings are due now, which are held by quiet hours, and their text.

Pure (DESIGN.md "Nudges"): the caller passes ``now``, the latest ``Analysis``, the business
clock, the sync health of each account and the nudges already delivered. Identity of a
nudge is ``(kind, ref)``: for a turn, its client and first unanswered Message-ID (stable
across re-threading, unlike a thread id); for a sync episode, the account and the last
success it went stale after. A nudge whose key was delivered is never due again.

Turn thresholds are instants on the SLA clock: ``since + warn_at`` on the calendar clock,
or the first instant at which the business seconds since ``since`` reach ``warn_at``. Age
only grows, so a turn already overdue gets the ``overdue`` nudge alone (a "due soon" after
the deadline would only be noise).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from responsewatch.core import durations
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.leave import NO_LEAVE, Leave
from responsewatch.core.models import Analysis, Awaiting
from responsewatch.core.rules import Rules
from responsewatch.core.safe_text import plain

__all__ = [
    "DEFAULT_KINDS",
    "NUDGE_KINDS",
    "QUIET_MODES",
    "AgreementNote",
    "Held",
    "Notification",
    "Nudge",
    "NudgeKind",
    "NudgePolicy",
    "Plan",
    "SyncHealth",
    "business_instant",
    "check_notification",
    "next_business_open",
    "plan_nudges",
    "render",
]


class NudgeKind(StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    SYNC_STALE = "sync_stale"
    SYNC_RECOVERED = "sync_recovered"
    AGREEMENT = "agreement"
    UPDATE_DUE = "update_due"  # a client's proactive update is due in one business day
    BACK_FROM_LEAVE = "back_from_leave"  # one summary of what waits, when my leave ends


NUDGE_KINDS: tuple[str, ...] = tuple(k.value for k in NudgeKind)
DEFAULT_KINDS: tuple[str, ...] = ("due_soon", "overdue", "sync_stale", "sync_recovered")
QUIET_MODES: tuple[str, ...] = ("outside_business_hours", "never")
NEVER_SYNCED = "never"
# How far ahead to look for the next business window (a year covers any holiday season).
_HORIZON = timedelta(days=370)
_US = timedelta(microseconds=1)
MAX_LINES = 20  # nudges listed in one notification; the rest are counted
MAX_TITLE_NAMES = 5  # a push title is one short line


@dataclass(frozen=True, slots=True)
class NudgePolicy:
    kinds: frozenset[str] = frozenset(DEFAULT_KINDS)
    quiet: str = "outside_business_hours"
    stale_after_s: float = 1800.0


@dataclass(frozen=True, slots=True)
class SyncHealth:
    account: str
    last_success: datetime | None


@dataclass(frozen=True, slots=True)
class AgreementNote:
    message_id: str
    client: str
    phrase: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Nudge:
    kind: NudgeKind
    ref: str
    due_at: datetime  # the instant the nudge came due (threshold crossed, sync went stale)
    client: str = ""
    subject: str = ""
    message_id: str = ""
    thread_id: str = ""
    since: datetime | None = None  # turn: its first message; sync: the last success
    deadline: datetime | None = None  # turn: the reply_within instant
    account: str = ""
    # back_from_leave: (client, turns waiting, subject of the oldest) per client
    waiting: tuple[tuple[str, int, str], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind.value, self.ref)


@dataclass(frozen=True, slots=True)
class Held:
    nudge: Nudge
    until: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    send: tuple[Nudge, ...]
    held: tuple[Held, ...]


@dataclass(frozen=True, slots=True)
class Notification:
    title: str
    body: str


# -- instants on the SLA clock ------------------------------------------------------------


def business_instant(clock: BusinessClock, start: datetime, seconds: float) -> datetime:
    """The first instant at which ``clock.seconds_between(start, t) >= seconds``."""
    if seconds <= 0:
        return start
    hi_step = timedelta(seconds=max(seconds, 3600.0))
    hi = start + hi_step
    for _ in range(40):  # business time advances by >= 1 window a week: a few doublings
        if clock.seconds_between(start, hi) >= seconds:
            break
        hi_step *= 2
        hi = start + hi_step
    else:
        return hi  # no business time at all ahead: the threshold is never reached
    lo = start  # seconds_between(start, lo) < seconds
    while hi - lo > _US:
        mid = lo + (hi - lo) / 2
        if clock.seconds_between(start, mid) >= seconds:
            hi = mid
        else:
            lo = mid
    return hi


def next_business_open(clock: BusinessClock, now: datetime) -> datetime | None:
    """The first business instant at or after ``now`` (``now`` itself inside hours)."""
    if clock.is_business_time(now):
        return now
    end = now + _HORIZON
    if clock.seconds_between(now, end) <= 0:
        return None
    lo, hi = now, end  # no business time in [now, lo]; some in [now, hi]
    while hi - lo > _US:
        mid = lo + (hi - lo) / 2
        if clock.seconds_between(now, mid) > 0:
            hi = mid
        else:
            lo = mid
    # Business seconds in [now, hi) are positive only once hi passes the window start.
    return hi - _US


def _threshold(
    clock: BusinessClock, sla_clock: str, since: datetime, seconds: float, leave: Leave = NO_LEAVE
) -> datetime:
    if sla_clock == "business":
        return business_instant(clock, since, seconds)  # the clock has the leave cut out
    return leave.after(since, seconds)


# -- planning --------------------------------------------------------------------------------


def _limits(rules: Rules, client: str) -> tuple[float, float]:
    for rule in rules.clients:
        if rule.name == client:
            within = rule.reply_within_s if rule.reply_within_s is not None else None
            warn = rule.warn_at_s if rule.warn_at_s is not None else None
            return (
                within if within is not None else rules.sla.reply_within_s,
                warn if warn is not None else rules.sla.warn_at_s,
            )
    return rules.sla.reply_within_s, rules.sla.warn_at_s


def turn_ref(turn: Awaiting) -> str:
    return f"{turn.client}\n{turn.first_unanswered_message_id}"


def _turn_nudges(
    awaiting: Iterable[Awaiting],
    rules: Rules,
    clock: BusinessClock,
    policy: NudgePolicy,
    now: datetime,
    acks: Mapping[str, datetime],
    sent: Collection[tuple[str, str]],
    leave: Leave = NO_LEAVE,
) -> list[Nudge]:
    out: list[Nudge] = []
    if leave.contains(now):  # DESIGN "Leave and absences": both clocks are paused
        return out
    wanted_soon = NudgeKind.DUE_SOON.value in policy.kinds
    wanted_over = NudgeKind.OVERDUE.value in policy.kinds
    if not (wanted_soon or wanted_over):
        return out
    business = rules.sla.clock == "business"
    limits: dict[str, tuple[float, float]] = {}
    for turn in awaiting:
        if str(turn.state) == "on_leave":  # both clocks are paused: nothing is due
            continue
        if any(m in acks and acks[m] <= now for m in turn.message_ids):
            continue
        if turn.client not in limits:
            limits[turn.client] = _limits(rules, turn.client)
        within_s, warn_s = limits[turn.client]
        # The age at now decides (as the states do); the instants, costlier on the business
        # clock, are computed only for the few nudges actually due and not yet sent.
        age = (
            clock.seconds_between(turn.since, now)
            if business
            else leave.calendar_seconds(turn.since, now)
        )
        if age >= within_s:
            if not wanted_over:
                continue
            kind = NudgeKind.OVERDUE
        elif age >= warn_s and wanted_soon:
            kind = NudgeKind.DUE_SOON
        else:
            continue
        ref = turn_ref(turn)
        if (kind.value, ref) in sent:
            continue
        deadline = _threshold(clock, rules.sla.clock, turn.since, within_s, leave)
        due_at = (
            deadline
            if kind is NudgeKind.OVERDUE
            else _threshold(clock, rules.sla.clock, turn.since, warn_s, leave)
        )
        out.append(
            Nudge(
                kind=kind,
                ref=ref,
                due_at=due_at,
                client=turn.client,
                subject=turn.subject,
                message_id=turn.first_unanswered_message_id,
                thread_id=turn.thread_id,
                since=turn.since,
                deadline=deadline,
            )
        )
    return out


def _sync_nudges(
    sync: Sequence[SyncHealth],
    policy: NudgePolicy,
    now: datetime,
    watching_since: datetime | None,
    sent: Collection[tuple[str, str]],
) -> list[Nudge]:
    out: list[Nudge] = []
    stale_after = timedelta(seconds=policy.stale_after_s)
    stale_sent: dict[str, list[str]] = {}
    for kind, ref in sent:
        if kind == NudgeKind.SYNC_STALE.value:
            account, _, marker = ref.rpartition("\n")
            stale_sent.setdefault(account, []).append(marker)
    for health in sync:
        last = health.last_success
        # Staleness counts from when we started watching: a daemon restarted after a day off
        # must not cry "broken" before it has had its chance to sync.
        known = [t for t in (last, watching_since) if t is not None]
        reference = max(known) if known else None
        wanted = NudgeKind.SYNC_STALE.value in policy.kinds
        if wanted and reference is not None and now - reference >= stale_after:
            marker = last.isoformat() if last is not None else NEVER_SYNCED
            out.append(
                Nudge(
                    kind=NudgeKind.SYNC_STALE,
                    ref=f"{health.account}\n{marker}",
                    due_at=reference + stale_after,
                    since=last,
                    account=health.account,
                )
            )
        if NudgeKind.SYNC_RECOVERED.value in policy.kinds and last is not None:
            for marker in stale_sent.get(health.account, ()):
                if marker == NEVER_SYNCED or last > datetime.fromisoformat(marker):
                    out.append(
                        Nudge(
                            kind=NudgeKind.SYNC_RECOVERED,
                            ref=f"{health.account}\n{marker}",
                            due_at=last,
                            since=last,
                            account=health.account,
                        )
                    )
    return out


def plan_nudges(
    analysis: Analysis,
    rules: Rules,
    clock: BusinessClock,
    policy: NudgePolicy,
    *,
    now: datetime,
    sent: Collection[tuple[str, str]],
    acks: Mapping[str, datetime] | None = None,
    sync: Sequence[SyncHealth] = (),
    watching_since: datetime | None = None,
    agreements: Sequence[AgreementNote] = (),
    leave: Leave = NO_LEAVE,
    extra: Sequence[Nudge] = (),
) -> Plan:
    """The nudges to send at ``now`` and those held by quiet hours (with their release).

    ``analysis`` may be older than ``now``: turn states are re-evaluated at ``now`` (a state
    changes with time alone). ``sent``: (kind, ref) keys already delivered. ``leave``: my
    leave (``clock`` must have it cut out too), so ages are re-evaluated as the analysis
    measures them. ``extra``: candidates of other kinds (core/nudges_leave.py), filtered
    and held like the others.
    """
    candidates = _turn_nudges(analysis.awaiting, rules, clock, policy, now, acks or {}, sent, leave)
    candidates += extra
    candidates += _sync_nudges(sync, policy, now, watching_since, sent)
    if NudgeKind.AGREEMENT.value in policy.kinds:
        candidates += [
            Nudge(
                kind=NudgeKind.AGREEMENT,
                ref=a.message_id,
                due_at=a.received_at,
                client=a.client,
                subject=a.phrase,
                message_id=a.message_id,
                since=a.received_at,
            )
            for a in agreements
        ]
    due = [n for n in candidates if n.key not in sent]
    if policy.quiet == "never" or not due:
        return Plan(tuple(due), ())
    opens = next_business_open(clock, now)
    if opens is None or opens <= now:
        return Plan(tuple(due), ())
    send: list[Nudge] = []
    held: list[Held] = []
    for nudge in due:
        # The consultant chose a clock whose deadline falls before the morning: say it now.
        if nudge.deadline is not None and nudge.deadline < opens:
            send.append(nudge)
        else:
            held.append(Held(nudge, opens))
    return Plan(tuple(send), tuple(held))


# -- text ------------------------------------------------------------------------------------

_TITLES = {
    "en": {
        NudgeKind.OVERDUE: ("reply overdue", "replies overdue"),
        NudgeKind.DUE_SOON: ("reply due soon", "replies due soon"),
        NudgeKind.SYNC_STALE: ("mail account not syncing", "mail accounts not syncing"),
        NudgeKind.SYNC_RECOVERED: ("mail account syncing again", "mail accounts syncing again"),
        NudgeKind.AGREEMENT: ("agreement archived", "agreements archived"),
        NudgeKind.UPDATE_DUE: ("client update due", "client updates due"),
        NudgeKind.BACK_FROM_LEAVE: ("back from leave", "back from leave"),
    },
    "fr": {
        NudgeKind.OVERDUE: ("réponse en retard", "réponses en retard"),
        NudgeKind.DUE_SOON: ("réponse bientôt due", "réponses bientôt dues"),
        NudgeKind.SYNC_STALE: ("compte mail non synchronisé", "comptes mail non synchronisés"),
        NudgeKind.SYNC_RECOVERED: ("compte mail synchronisé à nouveau",
                                   "comptes mail synchronisés à nouveau"),
        NudgeKind.AGREEMENT: ("accord archivé", "accords archivés"),
        NudgeKind.UPDATE_DUE: ("point client à envoyer", "points clients à envoyer"),
        NudgeKind.BACK_FROM_LEAVE: ("retour de congés", "retour de congés"),
    },
}  # fmt: skip
_WORDS = {
    "en": {
        "waiting": "waiting",
        "deadline": "deadline",
        "open": "open",
        "last_sync": "last successful sync",
        "never": "never since start-up",
        "more": "and {n} more",
        "test_title": "responsewatch test notification",
        "test_body": "Nudges reach you here.",
        "update_due": "update due",
        "last_update": "last update",
        "no_update": "no update yet",
        "on_leave_since": "on leave since",
        "waiting_n": "{n} replies waiting",
        "waiting_1": "1 reply waiting",
        "nothing_waits": "nothing waits",
        "oldest": "oldest",
    },
    "fr": {
        "waiting": "en attente depuis",
        "deadline": "échéance",
        "open": "ouvrir",
        "last_sync": "dernière synchronisation réussie",
        "never": "aucune depuis le démarrage",
        "more": "et {n} de plus",
        "test_title": "responsewatch : notification de test",
        "test_body": "Les rappels vous parviendront ici.",
        "update_due": "point attendu",
        "last_update": "dernier point",
        "no_update": "aucun point encore",
        "on_leave_since": "en congés depuis",
        "waiting_n": "{n} réponses en attente",
        "waiting_1": "1 réponse en attente",
        "nothing_waits": "rien n'attend",
        "oldest": "la plus ancienne",
    },
}
_DAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
           "nov.", "déc."),
}  # fmt: skip
_KIND_ORDER = (NudgeKind.BACK_FROM_LEAVE, NudgeKind.OVERDUE, NudgeKind.DUE_SOON,
               NudgeKind.UPDATE_DUE, NudgeKind.SYNC_STALE, NudgeKind.SYNC_RECOVERED,
               NudgeKind.AGREEMENT)  # fmt: skip


def _clean(text: str, limit: int = 120) -> str:
    """Attacker-controlled header text as one line of a push notification: whitespace runs
    (line breaks included) folded, then the project's one sanitiser (core.safe_text)."""
    return plain(" ".join(text.split()), limit)


def _duration(seconds: float, language: str) -> str:
    return durations.clock(seconds, "j" if language == "fr" else "d")


def _when(at: datetime, language: str, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    day = _DAYS[language][local.weekday()]
    month = _MONTHS[language][local.month - 1]
    return f"{day} {local.day} {month} {local:%H:%M}"


def _open_link(template: str, message_id: str) -> str:
    return template.replace("{message_id}", urllib.parse.quote(message_id, safe=""))


def _line(nudge: Nudge, now: datetime, language: str, zone: ZoneInfo, open_url: str) -> list[str]:
    w = _WORDS[language]
    label = _TITLES[language][nudge.kind][0]
    if nudge.kind in (NudgeKind.SYNC_STALE, NudgeKind.SYNC_RECOVERED):
        last = _when(nudge.since, language, zone) if nudge.since else w["never"]
        return [f"• {label}: {_clean(nudge.account)} ({w['last_sync']}: {last})"]
    if nudge.kind is NudgeKind.BACK_FROM_LEAVE:
        return _back_lines(nudge, language, zone)
    if nudge.kind is NudgeKind.UPDATE_DUE:
        last = (f"{w['last_update']} {_when(nudge.since, language, zone)}" if nudge.since
                else w["no_update"])  # fmt: skip
        due = _when(nudge.deadline, language, zone) if nudge.deadline else "-"
        return [f"• {_clean(nudge.client, 60)}: {w['update_due']} {due} ({last})"]
    head = f"• {_clean(nudge.client, 60)}: {_clean(nudge.subject) or '-'}"
    lines = [head]
    details = []
    if nudge.since is not None and nudge.kind is not NudgeKind.AGREEMENT:
        details.append(f"{w['waiting']} {_duration((now - nudge.since).total_seconds(), language)}")
    if nudge.deadline is not None:
        details.append(f"{w['deadline']} {_when(nudge.deadline, language, zone)}")
    if details:
        lines.append("  " + ", ".join(details))
    lines.append(f"  Message-ID: <{_clean(nudge.message_id, 250)}>")
    if open_url:
        lines.append(f"  {w['open']}: {_open_link(open_url, nudge.message_id)}")
    return lines


def _waiting_count(n: int, language: str) -> str:
    w = _WORDS[language]
    if n == 0:
        return w["nothing_waits"]
    return w["waiting_1"] if n == 1 else w["waiting_n"].format(n=n)


def _back_lines(nudge: Nudge, language: str, zone: ZoneInfo) -> list[str]:
    w = _WORDS[language]
    total = sum(n for _c, n, _s in nudge.waiting)
    since = f" ({w['on_leave_since']} {_when(nudge.since, language, zone)})" if nudge.since else ""
    lines = [f"• {_TITLES[language][nudge.kind][0]}{since}: {_waiting_count(total, language)}"]
    for client, n, oldest in nudge.waiting[:MAX_LINES]:
        lines.append(f"  {_clean(client, 60)}: {n} ({w['oldest']}: {_clean(oldest) or '-'})")
    if len(nudge.waiting) > MAX_LINES:
        lines.append("  " + w["more"].format(n=len(nudge.waiting) - MAX_LINES))
    return lines


def render(
    nudges: Sequence[Nudge],
    *,
    now: datetime,
    language: str,
    timezone: str,
    open_url: str = "",
) -> Notification:
    """One notification for every nudge of a tick: "2 replies due soon: Acme, Bolt"."""
    lang = language if language in _WORDS else "en"
    zone = ZoneInfo(timezone)
    sep = " : " if lang == "fr" else ": "
    by_kind: dict[NudgeKind, list[Nudge]] = {}
    for nudge in nudges:
        by_kind.setdefault(nudge.kind, []).append(nudge)
    parts: list[str] = []
    body: list[str] = []
    shown = 0
    for kind in _KIND_ORDER:
        group = by_kind.get(kind, [])
        if not group:
            continue
        one, many = _TITLES[lang][kind]
        if kind is NudgeKind.BACK_FROM_LEAVE:
            total = sum(n for _c, n, _s in group[0].waiting)
            parts.append(f"{one}{sep}{_waiting_count(total, lang)}")
            body += _line(group[0], now, lang, zone, open_url)
            shown += 1
            continue
        names = sorted({_clean(n.client or n.account, 40) for n in group})
        shown_names = ", ".join(names[:MAX_TITLE_NAMES])
        if len(names) > MAX_TITLE_NAMES:
            shown_names += f" +{len(names) - MAX_TITLE_NAMES}"
        parts.append(f"{len(group)} {one if len(group) == 1 else many}{sep}{shown_names}")
        for nudge in sorted(group, key=lambda n: (n.due_at, n.ref)):
            if shown < MAX_LINES:
                body += _line(nudge, now, lang, zone, open_url)
            shown += 1
    if shown > MAX_LINES:
        body.append(_WORDS[lang]["more"].format(n=shown - MAX_LINES))
    return Notification(" · ".join(parts), "\n".join(body))


def check_notification(language: str) -> Notification:
    w = _WORDS[language if language in _WORDS else "en"]
    return Notification(w["test_title"], w["test_body"])
