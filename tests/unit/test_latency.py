"""Client turns, replies, awaiting states and statistics: every "Precise reading" of
DESIGN.md has a test here."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import HOUR, ME, T0, msg

from responsewatch.app.pipeline import compute
from responsewatch.core.models import Analysis, Message, TurnState
from responsewatch.core.rules import ClientRule, Rules, Sla

ACME = ClientRule("acme", domains=("acme.fr",))
BOLT = ClientRule("bolt", domains=("bolt.com",))
RULES = Rules(me=frozenset({ME}), clients=(ACME, BOLT))
NOW = T0 + 100 * HOUR


def run(messages: list[Message], rules: Rules = RULES, now=NOW, acks=None) -> Analysis:
    return compute({m.message_id: m for m in messages}, rules, now=now, acks=acks)[0]


def stats(a: Analysis, client: str):
    return next(c for c in a.clients if c.client == client)


def test_one_reply_closes_a_multi_message_turn_latency_from_first_message() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("c2", "jean@acme.fr", at=T0 + HOUR, refs=["c1"]),
            msg("r1", ME, ["jean@acme.fr"], at=T0 + 3 * HOUR, refs=["c1", "c2"]),
        ]
    )
    assert [(r.message_id, r.reply_message_id, r.latency_seconds) for r in a.replies] == [
        ("c1", "r1", 3 * 3600)
    ]
    s = stats(a, "acme")
    assert (s.client_messages, s.turns, s.replied, s.awaiting) == (2, 1, 1, 0)


def test_a_client_message_after_my_reply_starts_a_new_turn() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("r1", ME, ["jean@acme.fr"], at=T0 + HOUR, refs=["c1"]),
            msg("c2", "jean@acme.fr", at=T0 + 2 * HOUR, refs=["c1", "r1"]),
        ]
    )
    assert [w.first_unanswered_message_id for w in a.awaiting] == ["c2"]
    assert a.awaiting[0].age_seconds == (NOW - (T0 + 2 * HOUR)).total_seconds()
    assert stats(a, "acme").turns == 2


def test_forward_is_not_a_reply_but_opens_my_turn() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("f1", ME, ["sophie@acme.fr"], at=T0 + HOUR, subject="TR: Projet", refs=["c1"]),
            msg("c2", "sophie@acme.fr", at=T0 + 5 * HOUR, refs=["c1", "f1"]),
        ]
    )
    assert a.replies == ()
    assert [w.first_unanswered_message_id for w in a.awaiting] == ["c1"]
    assert [(r.message_id, r.reply_message_id, r.latency_seconds) for r in a.client_replies] == [
        ("f1", "c2", 4 * 3600)
    ]


def test_fwd_prefix_after_reply_prefix_is_still_a_reply() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("r1", ME, ["jean@acme.fr"], at=T0 + HOUR, subject="Re: Fwd: Projet", refs=["c1"]),
        ]
    )
    assert [r.reply_message_id for r in a.replies] == ["r1"]


def test_cc_only_client_message_opens_no_turn_unless_count_cc() -> None:
    cc_only = [msg("c1", "jean@acme.fr", ["team@acme.fr"], cc=[ME], at=T0)]
    a = run(cc_only)
    assert (stats(a, "acme").client_messages, a.awaiting) == (0, ())
    counted = run(cc_only, replace(RULES, sla=Sla(count_cc=True)))
    assert stats(counted, "acme").client_messages == 1
    assert [w.first_unanswered_message_id for w in counted.awaiting] == ["c1"]


def test_automated_mail_never_opens_a_turn_nor_counts_as_a_reply() -> None:
    a = run(
        [
            msg("n1", "news@acme.fr", at=T0, automated=True),
            msg("c1", "jean@acme.fr", at=T0 + HOUR),
            msg("auto", ME, ["jean@acme.fr"], at=T0 + 2 * HOUR, refs=["c1"], automated=True),
        ]
    )
    assert stats(a, "acme").client_messages == 1
    assert [w.first_unanswered_message_id for w in a.awaiting] == ["c1"]
    assert a.replies == ()
    assert a.totals.automated == 2


def test_thanks_only_neither_opens_nor_closes_but_is_counted_and_answers_my_turn() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("r1", ME, ["jean@acme.fr"], at=T0 + HOUR, refs=["c1"]),
            msg("t1", "jean@acme.fr", at=T0 + 2 * HOUR, refs=["c1", "r1"], thanks=True),
        ]
    )
    s = stats(a, "acme")
    assert (s.client_messages, s.turns, s.awaiting) == (2, 1, 0)
    assert [(r.message_id, r.reply_message_id) for r in a.client_replies] == [("r1", "t1")]
    # A thanks-only inside an open turn does not close it either.
    b = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("t1", "jean@acme.fr", at=T0 + HOUR, refs=["c1"], thanks=True),
        ]
    )
    assert [w.first_unanswered_message_id for w in b.awaiting] == ["c1"]


def test_thanks_only_alone_opens_no_turn() -> None:
    a = run([msg("t1", "jean@acme.fr", at=T0, thanks=True)])
    assert a.awaiting == () and stats(a, "acme").turns == 0


def test_undated_messages_are_counted_but_never_open_or_close() -> None:
    a = run(
        [
            msg("u1", "jean@acme.fr", at=None),
            msg("c1", "jean@acme.fr", at=T0, refs=["u1"]),
            msg("u2", ME, ["jean@acme.fr"], at=None, refs=["u1", "c1"]),
        ]
    )
    assert stats(a, "acme").client_messages == 2
    assert [w.first_unanswered_message_id for w in a.awaiting] == ["c1"]
    assert a.totals.undated == 2


def test_one_reply_to_two_clients_answers_both_turns() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("c2", "mike@bolt.com", at=T0 + HOUR, refs=["c1"]),
            msg("r1", ME, ["jean@acme.fr"], cc=["mike@bolt.com"], at=T0 + 2 * HOUR, refs=["c2"]),
        ]
    )
    assert sorted((r.client, r.latency_seconds) for r in a.replies) == [
        ("acme", 7200),
        ("bolt", 3600),
    ]
    assert a.awaiting == ()


def test_reply_must_address_the_client() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("r1", ME, ["mike@bolt.com"], at=T0 + HOUR, refs=["c1"]),
        ]
    )
    assert a.replies == ()
    assert [w.client for w in a.awaiting] == ["acme"]


def test_reply_must_be_later_than_the_turns_first_message() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("r1", ME, ["jean@acme.fr"], at=T0, refs=["c1"]),
        ]
    )
    assert a.replies == ()
    assert len(a.awaiting) == 1


def test_states_at_exact_thresholds() -> None:
    def state_at(age: timedelta) -> TurnState:
        return run([msg("c1", "jean@acme.fr", at=T0)], now=T0 + age).awaiting[0].state

    assert state_at(timedelta(hours=18) - timedelta(seconds=1)) is TurnState.OK
    assert state_at(timedelta(hours=18)) is TurnState.DUE_SOON
    assert state_at(timedelta(hours=24) - timedelta(seconds=1)) is TurnState.DUE_SOON
    assert state_at(timedelta(hours=24)) is TurnState.OVERDUE


def test_within_sla_is_inclusive_and_breaches_count_late_replies_and_overdue() -> None:
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0, subject="A"),
            msg("r1", ME, ["jean@acme.fr"], at=T0 + 24 * HOUR, refs=["c1"]),
            msg("c2", "jean@acme.fr", at=T0, subject="B"),
            msg("r2", ME, ["jean@acme.fr"], at=T0 + 24 * HOUR + timedelta(seconds=1), refs=["c2"]),
            msg("c3", "jean@acme.fr", at=T0, subject="C"),
        ],
        now=T0 + 30 * HOUR,
    )
    assert sorted((r.message_id, r.within_sla) for r in a.replies) == [("c1", True), ("c2", False)]
    s = stats(a, "acme")
    assert (s.replied_within_sla, s.overdue, s.breaches) == (1, 1, 2)


def test_per_client_override() -> None:
    rules = replace(
        RULES, clients=(replace(ACME, reply_within_s=8 * 3600.0, warn_at_s=6 * 3600.0), BOLT)
    )
    a = run(
        [msg("c1", "jean@acme.fr", at=T0), msg("c2", "mike@bolt.com", at=T0, subject="x")],
        rules,
        now=T0 + 9 * HOUR,
    )
    assert {w.client: w.state for w in a.awaiting} == {
        "acme": TurnState.OVERDUE,
        "bolt": TurnState.OK,
    }


def test_business_clock_decides_states_when_configured() -> None:
    friday_17 = T0 + 4 * 24 * HOUR + 7 * HOUR  # Friday 17:00 Paris (UTC+1)
    monday_10 = friday_17 + 65 * HOUR
    rules = replace(RULES, sla=Sla(clock="business"))
    a = run(
        [
            msg("c1", "jean@acme.fr", at=friday_17),
            msg("r1", ME, ["jean@acme.fr"], at=monday_10, refs=["c1"]),
        ],
        rules,
    )
    (reply,) = a.replies
    assert reply.latency_seconds == 65 * 3600
    assert reply.business_latency_seconds == 2 * 3600
    assert reply.within_sla


def test_after_hours_replies() -> None:
    evening = T0 + 10 * HOUR  # 20:00 Paris
    saturday = T0 + 5 * 24 * HOUR
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0, subject="a"),
            msg("r1", ME, ["jean@acme.fr"], at=evening, refs=["c1"]),
            msg("c2", "jean@acme.fr", at=T0, subject="b"),
            msg("r2", ME, ["jean@acme.fr"], at=saturday, refs=["c2"]),
            msg("c3", "jean@acme.fr", at=T0, subject="c"),
            msg("r3", ME, ["jean@acme.fr"], at=T0 + 2 * HOUR, refs=["c3"]),
            msg("c4", "jean@acme.fr", at=T0, subject="d"),
            msg("r4", ME, ["jean@acme.fr"], at=T0 + 8 * HOUR, refs=["c4"]),  # 18:00 sharp: after
        ]
    )
    assert stats(a, "acme").after_hours_replies == 3


def test_median_and_p90_interpolate_and_are_null_without_data() -> None:
    messages = []
    for i, hours in enumerate([1, 2, 3, 4, 10]):
        messages += [
            msg(f"c{i}", "jean@acme.fr", at=T0, subject=f"s{i}"),
            msg(f"r{i}", ME, ["jean@acme.fr"], at=T0 + hours * HOUR, refs=[f"c{i}"]),
        ]
    a = run(messages)
    s = stats(a, "acme")
    assert s.median_reply_seconds == 3 * 3600
    assert s.p90_reply_seconds == (4 + 0.6 * 6) * 3600
    assert stats(a, "bolt").median_reply_seconds is None
    assert stats(a, "bolt").p90_reply_seconds is None


def test_acknowledged_turns_are_closed_without_latency() -> None:
    messages = [
        msg("c1", "jean@acme.fr", at=T0),
        msg("c2", "jean@acme.fr", at=T0 + 50 * HOUR, refs=["c1"], subject="Re: Projet"),
    ]
    a = run(messages, acks={"c1": T0 + 2 * HOUR}, now=T0 + 51 * HOUR)
    s = stats(a, "acme")
    assert (s.acknowledged, s.replied, s.turns, s.breaches) == (1, 0, 2, 0)
    assert [w.first_unanswered_message_id for w in a.awaiting] == ["c2"]
    assert s.median_reply_seconds is None


def test_time_of_message_is_date_for_mine_and_arrival_for_theirs() -> None:
    c1 = msg("c1", "jean@acme.fr", at=T0 - 5 * HOUR, arrival=T0)  # sent earlier, arrived T0
    r1 = replace(msg("r1", ME, ["jean@acme.fr"], at=T0 + HOUR, refs=["c1"]), arrival=None)
    a = run([c1, r1])
    assert a.replies[0].received_at == T0
    assert a.replies[0].latency_seconds == 3600


def test_correspondents_without_clients_group_by_domain_and_free_mail_by_address() -> None:
    rules = Rules(me=frozenset({ME}))
    a = run(
        [
            msg("a", "x@corp.com", at=T0, subject="1"),
            msg("b", "y@corp.com", at=T0, subject="2"),
            msg("c", "p@gmail.com", at=T0, subject="3"),
            msg("d", "q@hotmail.fr", at=T0, subject="4"),
        ],
        rules,
    )
    assert sorted(c.client for c in a.clients) == ["corp.com", "p@gmail.com", "q@hotmail.fr"]
    assert stats(a, "corp.com").client_messages == 2


def test_my_turns_and_client_replies() -> None:
    a = run(
        [
            msg("m1", ME, ["jean@acme.fr"], at=T0),
            msg("m2", ME, ["jean@acme.fr"], at=T0 + HOUR, refs=["m1"]),
            msg("c1", "jean@acme.fr", at=T0 + 5 * HOUR, refs=["m1", "m2"]),
            msg("m3", ME, ["jean@acme.fr"], at=T0 + 6 * HOUR, refs=["c1"]),
        ]
    )
    s = stats(a, "acme")
    assert (s.my_turns, s.client_replied, s.client_median_reply_seconds) == (2, 1, 5 * 3600)
    assert [(r.message_id, r.reply_message_id) for r in a.client_replies] == [("m1", "c1")]


# -- properties ----------------------------------------------------------------------------

PEOPLE = ["jean@acme.fr", "sophie@acme.fr", "mike@bolt.com", ME]


@st.composite
def mailboxes(draw: st.DrawFn) -> list[Message]:
    n = draw(st.integers(1, 25))
    out: list[Message] = []
    for i in range(n):
        sender = draw(st.sampled_from(PEOPLE))
        to = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True))
        parent = draw(st.one_of(st.none(), st.integers(0, max(0, i - 1))))
        refs = [f"m{parent}"] if parent is not None and i else []
        at = (
            None
            if draw(st.integers(0, 20)) == 0
            else T0 + timedelta(minutes=draw(st.integers(0, 60 * 24 * 6)))
        )
        out.append(
            msg(
                f"m{i}",
                sender,
                to,
                at,
                refs=refs,
                thanks=draw(st.booleans()),
                subject=draw(st.sampled_from(["Projet", "Re: Projet", "TR: Projet"])),
                automated=draw(st.integers(0, 10)) == 0,
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(mailboxes(), st.randoms(use_true_random=False), st.data())
def test_invariants_and_input_order_independence(
    box: list[Message], rnd: random.Random, data: st.DataObject
) -> None:
    acked = data.draw(st.lists(st.sampled_from([m.message_id for m in box]), unique=True))
    acks = {mid: T0 + timedelta(minutes=data.draw(st.integers(-60, 60 * 24 * 7))) for mid in acked}
    a = run(box, acks=acks)
    shuffled = list(box)
    rnd.shuffle(shuffled)
    assert run(shuffled, acks=dict(reversed(acks.items()))) == a
    for ack in a.acknowledged:
        assert ack.since <= ack.acknowledged_at and ack.acknowledged_at in acks.values()
    for s in a.clients:
        assert s.turns == s.replied + s.acknowledged + s.awaiting
        assert s.breaches == s.replied - s.replied_within_sla + s.overdue
        assert s.after_hours_replies <= s.replied
        assert s.client_replied <= s.my_turns
    for r in a.replies:
        assert r.latency_seconds > 0
        assert 0 <= r.business_latency_seconds <= r.latency_seconds
    turn_starts = [w.first_unanswered_message_id for w in a.awaiting] + [
        r.message_id for r in a.replies
    ]
    assert len(turn_starts) == len(set(turn_starts))
