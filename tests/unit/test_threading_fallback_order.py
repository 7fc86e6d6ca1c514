"""The subject fallback (DESIGN.md "Conversations" (4)) judges every candidate on its own: a
message it skips (suspicious, no base subject, no match) never stops the later ones, and
the participants of both sides of a union count for the messages after it. Copies of one
Message-ID give one answer whatever the input order. (Each kills a mutant of
core/threading.py that survived tests/benchmarks/mutation.py.)"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.test_threading import CLIENT, ME, MY, OTHER, D, H, build, msg

from responsewatch.core.forged import AUTH_FAIL
from responsewatch.core.models import Message
from responsewatch.core.threading import build_conversations

THIRD = "luc@initech.fr"


def test_a_suspicious_message_does_not_stop_the_fallback_for_later_ones() -> None:
    forged = dataclasses.replace(
        msg("f", H, subject="Re: Autre", frm=ME, to=(OTHER,)), warnings=(AUTH_FAIL,)
    )
    got = build(
        msg("a", subject="Budget"),
        forged,
        msg("b", 2 * H, subject="Re: Budget"),
    )
    assert frozenset({"a", "b"}) in got


def test_a_message_without_base_subject_does_not_stop_the_fallback() -> None:
    got = build(
        msg("a", subject="Budget"),
        msg("e", H, subject="Re:", frm=OTHER),
        msg("b", 2 * H, subject="Re: Budget"),
    )
    assert got == {frozenset({"a", "b"}), frozenset({"e"})}


def test_a_candidate_that_matches_nothing_does_not_stop_the_later_ones() -> None:
    got = build(
        msg("a", subject="Budget"),
        # Same base, but no shared participant: not joined ...
        msg("x", H, subject="Re: Budget", frm=OTHER),
        # ... too old a parent: not joined ...
        msg("old", subject="Devis", frm=THIRD),
        msg("y", 40 * D, subject="Re: Devis", frm=THIRD),
        # ... and a candidate after both still is.
        msg("p", 41 * D, subject="Planning"),
        msg("q", 42 * D, subject="Re: Planning"),
    )
    assert frozenset({"p", "q"}) in got
    assert frozenset({"x"}) in got and frozenset({"y"}) in got


def test_a_candidate_already_in_its_parents_conversation_does_not_stop_the_later_ones() -> None:
    got = build(
        msg("a", subject="Budget"),
        # c has no links of its own, but r's References put it with a already.
        msg("c", 2 * H, subject="Re: Budget"),
        msg("r", 3 * H, subject="Re: Budget", frm=ME, to=(CLIENT,), refs=("a", "c")),
        msg("p", 4 * H, subject="Planning", frm=OTHER),
        msg("q", 5 * H, subject="Re: Planning", frm=OTHER),
    )
    assert got == {frozenset({"a", "c", "r"}), frozenset({"p", "q"})}


def test_people_of_the_absorbed_candidate_side_count_afterwards() -> None:
    # The parent's conversation is the bigger one (a + its reply), so it absorbs c1; c1's
    # Cc THIRD is then a participant, and c2 from THIRD alone joins through it.
    got = build(
        msg("a", subject="Budget"),
        msg("r", H, subject="Re: Budget", frm=ME, to=(CLIENT,), irt=("a",)),
        msg("c1", 2 * H, subject="Re: Budget", cc=(THIRD,)),
        msg("c2", 3 * H, subject="Re: Budget", frm=THIRD),
    )
    assert got == {frozenset({"a", "r", "c1", "c2"})}


def test_people_of_the_absorbed_parent_side_count_afterwards() -> None:
    # The candidate's conversation is the bigger one (c1 + its reply), so it absorbs a; a's
    # Cc THIRD is then a participant, and c2 from THIRD alone joins through it.
    got = build(
        msg("a", subject="Budget", cc=(THIRD,)),
        msg("c1", 2 * H, subject="Re: Budget"),
        msg("r", 3 * H, subject="Re: Budget", frm=ME, to=(CLIENT,), irt=("c1",)),
        msg("c2", 4 * H, subject="Re: Budget", frm=THIRD),
    )
    assert got == {frozenset({"a", "c1", "r", "c2"})}


_ADDR = st.sampled_from([CLIENT, OTHER, THIRD, ME])


@given(
    copies=st.lists(
        st.fixed_dictionaries(
            {
                "subject": st.sampled_from(["Re: Budget", "Re: Devis", "Budget"]),
                "frm": _ADDR,
                "to": st.lists(_ADDR, max_size=2).map(tuple),
                "cc": st.lists(_ADDR, max_size=2).map(tuple),
                "provider": st.sampled_from([None, "t1", "t2"]),
                "guid": st.sampled_from([None, "A" * 32, "B" * 32]),
            }
        ),
        min_size=2,
        max_size=3,
    ),
    no_from=st.lists(st.booleans(), min_size=3, max_size=3),
)
@settings(max_examples=150, deadline=None)
def test_copies_of_one_id_give_one_answer_whatever_the_order(
    copies: list[dict[str, object]], no_from: list[bool]
) -> None:
    # Copies of "x" at the same instant that differ in every other field; the neighbours
    # link to x through any of them (subject, participants, provider thread, Thread-Index).
    dup = [
        dataclasses.replace(msg("x", H, **kw), from_addr=None) if gone else msg("x", H, **kw)  # type: ignore[arg-type]
        for kw, gone in zip(copies, no_from, strict=False)
    ]
    neighbours = [
        msg("a", subject="Budget"),
        msg("b", 2 * H, subject="Re: Budget", frm=THIRD, provider="t1"),
        msg("c", 3 * H, subject="Re: Devis", frm=OTHER, guid="B" * 32),
        msg("d", 4 * H, subject="Re: Devis", frm=OTHER),
    ]
    orders = (
        [*dup, *neighbours],
        [*reversed(dup), *neighbours],
        [*neighbours, *dup],
        [neighbours[2], *reversed(dup), *neighbours[::-1]],
    )
    answers = {
        frozenset(frozenset(c.message_ids) for c in build_conversations(order, MY))
        for order in orders
    }
    assert len(answers) == 1


def _one_answer(messages: list[Message]) -> None:
    orders = (messages, messages[::-1], [*messages[1:], messages[0]])
    answers = {
        frozenset(frozenset(c.message_ids) for c in build_conversations(order, MY))
        for order in orders
    }
    assert len(answers) == 1


def test_copies_differing_only_in_cc_give_one_answer() -> None:
    # Whether x joins a depends on which copy's Cc (CLIENT) is used: never on the order.
    plain = msg("x", H, subject="Re: Budget", frm=OTHER)
    _one_answer([plain, dataclasses.replace(plain, cc=(CLIENT,)), msg("a", subject="Budget")])


def test_copies_differing_only_in_thread_index_give_one_answer() -> None:
    plain = msg("x", H, subject="Other", frm=OTHER)
    guid = "A" * 32
    _one_answer(
        [
            plain,
            dataclasses.replace(plain, thread_index_guid=guid),
            msg("c", 2 * H, subject="Devis", frm=THIRD, guid=guid),
        ]
    )
