"""Every field of the turns, replies and acknowledgements the analysis returns, and the
per-client and business-clock readings the broader tests leave implicit (each test here
kills mutants of core/latency.py that survived tests/benchmarks/mutation.py)."""

from __future__ import annotations

from dataclasses import replace

from tests.support.build import HOUR, ME, T0, msg
from tests.unit.test_latency import ACME, BOLT, NOW, RULES, run, stats

from responsewatch.app.pipeline import compute
from responsewatch.core.models import Acknowledged, Awaiting, ClientReply, Reply, TurnState
from responsewatch.core.rules import Rules, Sla

FRIDAY_17 = T0 + 4 * 24 * HOUR + 7 * HOUR  # Friday 17:00 Paris (UTC+1)


def test_reply_awaiting_and_acknowledged_carry_every_field() -> None:
    messages = {
        m.message_id: m
        for m in [
            msg("c1", "jean@acme.fr", at=T0, subject="A"),
            msg("r1", ME, ["jean@acme.fr"], at=T0 + 3 * HOUR, subject="Re: A", refs=["c1"]),
            msg("c2", "jean@acme.fr", at=T0, subject="B"),
            msg("c3", "jean@acme.fr", at=T0 + HOUR, subject="Re: B", refs=["c2"]),
            msg("k1", "mike@bolt.com", at=T0, subject="C"),
        ]
    }
    a, conversations = compute(messages, RULES, now=NOW, acks={"k1": T0 + 2 * HOUR})
    thread = {m: c.thread_id for c in conversations for m in c.message_ids}
    assert a.replies == (
        Reply(
            thread_id=thread["c1"],
            client="acme",
            message_id="c1",
            reply_message_id="r1",
            received_at=T0,
            replied_at=T0 + 3 * HOUR,
            latency_seconds=3 * 3600,
            business_latency_seconds=3 * 3600,  # Monday 10:00-13:00 Paris
            within_sla=True,
            after_hours=False,
        ),
    )
    assert a.awaiting == (
        Awaiting(
            thread_id=thread["c2"],
            client="acme",
            subject="B",
            first_unanswered_message_id="c2",
            since=T0,
            age_seconds=100 * 3600,
            business_age_seconds=a.awaiting[0].business_age_seconds,
            state=TurnState.OVERDUE,
            message_ids=("c2", "c3"),
        ),
    )
    # Monday 10:00 to Friday 14:00 Paris: 8 h Monday, 9 h Tuesday to Thursday, 5 h Friday.
    assert a.awaiting[0].business_age_seconds == (8 + 3 * 9 + 5) * 3600
    assert a.acknowledged == (Acknowledged(thread["k1"], "bolt", "k1", T0, T0 + 2 * HOUR),)


def test_per_client_warn_at_and_reply_within() -> None:
    rules = replace(
        RULES, clients=(replace(ACME, reply_within_s=8 * 3600.0, warn_at_s=6 * 3600.0), BOLT)
    )
    waiting = [msg("c1", "jean@acme.fr", at=T0), msg("b1", "mike@bolt.com", at=T0, subject="x")]
    a = run(waiting, rules, now=T0 + 7 * HOUR)
    assert {w.client: w.state for w in a.awaiting} == {
        "acme": TurnState.DUE_SOON,  # acme's own 6 h warning, not the 18 h default
        "bolt": TurnState.OK,
    }
    replied = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("r1", ME, ["jean@acme.fr"], at=T0 + 9 * HOUR, refs=["c1"]),
            msg("b1", "mike@bolt.com", at=T0, subject="x"),
            msg("s1", ME, ["mike@bolt.com"], at=T0 + 9 * HOUR, subject="Re: x", refs=["b1"]),
        ],
        rules,
    )
    assert {r.client: r.within_sla for r in replied.replies} == {"acme": False, "bolt": True}
    assert (stats(replied, "acme").breaches, stats(replied, "bolt").breaches) == (1, 0)


def test_only_a_warn_at_override_keeps_the_default_reply_within() -> None:
    rules = replace(RULES, clients=(replace(ACME, warn_at_s=2 * 3600.0), BOLT))
    states = [run([msg("c1", "jean@acme.fr", at=T0)], rules, now=T0 + h * HOUR) for h in (1, 3)]
    assert [a.awaiting[0].state for a in states] == [TurnState.OK, TurnState.DUE_SOON]
    late = run([msg("c1", "jean@acme.fr", at=T0)], rules, now=T0 + 23 * HOUR)
    assert late.awaiting[0].state is TurnState.DUE_SOON  # 24 h default still applies


def test_business_clock_decides_awaiting_states() -> None:
    rules = replace(RULES, sla=Sla(clock="business"))
    monday_10 = FRIDAY_17 + 65 * HOUR  # 65 calendar hours, 2 business hours
    a = run([msg("c1", "jean@acme.fr", at=FRIDAY_17)], rules, now=monday_10)
    (turn,) = a.awaiting
    assert (turn.age_seconds, turn.business_age_seconds) == (65 * 3600, 2 * 3600)
    assert turn.state is TurnState.OK
    calendar = run([msg("c1", "jean@acme.fr", at=FRIDAY_17)], now=monday_10)
    assert calendar.awaiting[0].state is TurnState.OVERDUE


def test_an_ack_at_the_instant_of_a_client_message_closes_the_turn_first() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("c2", "jean@acme.fr", at=T0 + 2 * HOUR, refs=["c1"]),
        ],
        acks={"c1": T0 + 2 * HOUR},
    )
    assert [k.message_id for k in a.acknowledged] == ["c1"]
    assert [w.message_ids for w in a.awaiting] == [("c2",)]


def test_a_note_to_myself_is_no_client_message() -> None:
    # Without clients every other sender is a correspondent; I am never one of them.
    rules = Rules(me=frozenset({ME}))
    a = run([msg("n1", ME, [ME], at=T0)], rules)
    assert a.clients == () and a.awaiting == ()


def test_document_totals_sla_and_per_client_counts() -> None:
    rules = replace(RULES, sla=Sla(reply_within_s=20 * 3600.0, warn_at_s=10 * 3600.0))
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0, subject="A"),
            msg("c2", "jean@acme.fr", at=T0, subject="B"),
            msg("c3", "jean@acme.fr", at=T0, subject="C"),
            msg("r3", ME, ["jean@acme.fr"], at=T0 + 2 * HOUR, subject="Re: C", refs=["c3"]),
            msg("c4", "jean@acme.fr", at=T0, subject="D"),
            msg("r4", ME, ["jean@acme.fr"], at=T0 + 4 * HOUR, subject="Re: D", refs=["c4"]),
            msg("u1", "jean@acme.fr", at=None, subject="E"),
            msg("n1", "news@acme.fr", at=T0, subject="F", automated=True),
        ],
        rules,
        acks={"c1": T0 + HOUR, "c2": T0 + HOUR},
    )
    assert (a.now, a.reply_within_seconds, a.warn_at_seconds, a.clock) == (
        NOW,
        20 * 3600,
        10 * 3600,
        "calendar",
    )
    assert (a.totals.messages, a.totals.conversations) == (8, 6)
    assert (a.totals.automated, a.totals.undated) == (1, 1)
    acme, bolt = stats(a, "acme"), stats(a, "bolt")
    assert (acme.acknowledged, acme.replied, acme.turns, acme.client_messages) == (2, 2, 4, 5)
    assert acme.median_business_reply_seconds == 3 * 3600
    assert (acme.my_turns, bolt.my_turns, bolt.client_replied) == (2, 0, 0)
    assert bolt.client_median_reply_seconds is None


def test_client_reply_and_mid_conversation_acknowledgement_fields() -> None:
    messages = {
        m.message_id: m
        for m in [
            msg("m1", ME, ["jean@acme.fr"], at=T0),
            msg("c1", "jean@acme.fr", at=T0 + 5 * HOUR, refs=["m1"]),
            msg("c2", "jean@acme.fr", at=T0 + 9 * HOUR, refs=["c1"]),
        ]
    }
    a, conversations = compute(messages, RULES, now=NOW, acks={"c1": T0 + 6 * HOUR})
    (thread,) = [c.thread_id for c in conversations]
    assert a.client_replies == (
        ClientReply(thread, "acme", "m1", "c1", T0, T0 + 5 * HOUR, 5 * 3600),
    )
    # closed when c2 arrives (not at the end of the conversation): same fields
    assert a.acknowledged == (Acknowledged(thread, "acme", "c1", T0 + 5 * HOUR, T0 + 6 * HOUR),)
    assert [w.message_ids for w in a.awaiting] == [("c2",)]
