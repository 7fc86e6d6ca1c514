"""Messages -> conversations (DESIGN.md "Conversations")."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.core.models import Conversation, Message
from responsewatch.core.threading import build_conversations, thread_id_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ME = "claire@martin-conseil.fr"
MY = frozenset({ME, "c.martin@martin-conseil.fr"})
CLIENT = "paul@acme.fr"
OTHER = "jeanne@globex.fr"


def msg(
    mid: str,
    at: timedelta | None = timedelta(0),
    *,
    subject: str = "Budget",
    frm: str = CLIENT,
    to: tuple[str, ...] = (ME,),
    cc: tuple[str, ...] = (),
    irt: tuple[str, ...] = (),
    refs: tuple[str, ...] = (),
    guid: str | None = None,
    provider: str | None = None,
) -> Message:
    when = None if at is None else T0 + at
    return Message(
        message_id=mid,
        from_addr=frm,
        to=to,
        cc=cc,
        subject=subject,
        date=when,
        arrival=when,
        in_reply_to=irt,
        references=refs,
        thread_index_guid=guid,
        provider_thread=provider,
    )


def groups(convs: Iterable[Conversation]) -> set[frozenset[str]]:
    return {frozenset(c.message_ids) for c in convs}


def build(*messages: Message, fallback: bool = True) -> set[frozenset[str]]:
    return groups(build_conversations(messages, MY, subject_fallback=fallback))


H = timedelta(hours=1)
D = timedelta(days=1)


# --- headers ------------------------------------------------------------------------------


def test_no_messages_no_conversations() -> None:
    assert build_conversations([], MY) == []


def test_in_reply_to_and_references_link() -> None:
    got = build(
        msg("a", subject="Budget"),
        msg("b", H, subject="Re: Budget", frm=ME, to=(CLIENT,), irt=("a",)),
        msg("c", 2 * H, subject="Re: Budget", refs=("a", "b")),
        msg("z", 3 * H, subject="Unrelated"),
    )
    assert got == {frozenset({"a", "b", "c"}), frozenset({"z"})}


def test_replies_to_an_absent_message_meet_and_the_absent_id_is_not_listed() -> None:
    got = build(
        msg("b", H, subject="x", refs=("gone",)),
        msg("c", 2 * H, subject="y", irt=("gone",)),
    )
    assert got == {frozenset({"b", "c"})}


def test_self_references_and_cycles_are_harmless() -> None:
    got = build(
        msg("a", refs=("a",)),
        msg("b", H, subject="b", refs=("c",)),
        msg("c", 2 * H, subject="c", refs=("b",), irt=("c",)),
    )
    assert got == {frozenset({"a"}), frozenset({"b", "c"})}


def test_provider_thread_groups_and_none_does_not() -> None:
    got = build(
        msg("a", subject="one", provider="T1"),
        msg("b", H, subject="two", provider="T1"),
        msg("c", 2 * H, subject="three", provider="T2"),
        msg("d", 3 * H, subject="four"),
        msg("e", 4 * H, subject="five"),
    )
    assert got == {frozenset({"a", "b"}), frozenset({"c"}), frozenset({"d"}), frozenset({"e"})}


def test_thread_index_guid_groups_without_references_or_subject() -> None:
    guid = "0123456789abcdef0123456789abcdef"
    got = build(
        msg("a", subject="Planning"),
        msg("b", D, subject="no prefix at all", frm=ME, to=(OTHER,), guid=guid),
        msg("c", 60 * D, subject="Planning", guid=guid),
        msg("d", 2 * D, subject="other", guid="f" * 32),
        fallback=False,
    )
    assert got == {frozenset({"a"}), frozenset({"b", "c"}), frozenset({"d"})}


def test_duplicate_ids_count_once_and_pool_their_links() -> None:
    convs = build_conversations(
        [msg("a"), msg("b", H, subject="x"), msg("b", H, subject="x", refs=("a",)), msg("a")],
        MY,
    )
    assert [c.message_ids for c in convs] == [("a", "b")]


# --- identifiers and order ----------------------------------------------------------------


def test_thread_id_and_ordering() -> None:
    convs = build_conversations(
        [
            msg("undated", None, subject="x", refs=("m2",)),
            msg("m2", 2 * H, subject="x", refs=("m1",)),
            msg("m1", H, subject="x"),
            msg("tie-b", H, subject="y"),
            msg("tie-a", H, subject="y", refs=("tie-b",)),
            msg("early", -H, subject="z"),
            msg("lonely", None, subject="w"),
        ],
        MY,
    )
    assert [c.message_ids for c in convs] == [
        ("early",),
        ("m1", "m2", "undated"),
        ("tie-a", "tie-b"),
        ("lonely",),
    ]
    first = hashlib.sha256(b"m1").hexdigest()[:16]
    assert convs[1].thread_id == "t" + first == thread_id_for("m1")
    assert len({c.thread_id for c in convs}) == 4


def test_time_of_my_messages_is_the_date_header() -> None:
    mine = Message("mine", from_addr=ME, to=(CLIENT,), date=T0, arrival=T0 + 2 * D)
    theirs = Message("theirs", from_addr=CLIENT, to=(ME,), date=T0 + 3 * D, arrival=T0 + D)
    convs = build_conversations([theirs, mine], MY)
    assert [c.message_ids for c in convs] == [("mine",), ("theirs",)]


# --- subject fallback ---------------------------------------------------------------------


def test_reply_without_references_joins_by_subject() -> None:
    original = msg("a", subject="Budget 2026")
    reply = msg("b", H, subject="RE: budget   2026", frm=ME, to=(CLIENT,))
    assert build(original, reply) == {frozenset({"a", "b"})}
    assert build(original, reply, fallback=False) == {frozenset({"a"}), frozenset({"b"})}


@pytest.mark.parametrize(
    "subject",
    ["RE : Budget", "Réf. : Budget", "Re[2]: Budget", "Re(3): budget", "[acme] Re: [EXT] Budget"],
)
def test_localized_prefixes_counters_and_list_tags_join(subject: str) -> None:
    assert build(msg("a"), msg("b", H, subject=subject)) == {frozenset({"a", "b"})}


@pytest.mark.parametrize("subject", ["Fwd: Budget", "TR : Budget", "WG: Budget", "Budget"])
def test_forward_or_no_prefix_never_links(subject: str) -> None:
    assert build(msg("a"), msg("b", H, subject=subject)) == {frozenset({"a"}), frozenset({"b"})}


def test_a_forwarded_reply_is_a_reply() -> None:
    assert build(msg("a"), msg("b", H, subject="Fwd: Re: Budget")) == {frozenset({"a", "b"})}


def test_thirty_days_exactly_links_one_second_more_does_not() -> None:
    reply = "Re: Budget"
    assert build(msg("a"), msg("b", 30 * D, subject=reply)) == {frozenset({"a", "b"})}
    late = msg("b", 30 * D + timedelta(seconds=1), subject=reply)
    assert build(msg("a"), late) == {frozenset({"a"}), frozenset({"b"})}


def test_shared_participant_must_not_be_me() -> None:
    a = msg("a", frm=CLIENT, to=(ME,))
    b = msg("b", H, subject="Re: Budget", frm=OTHER, to=("C.Martin@Martin-Conseil.fr",))
    assert build(a, b) == {frozenset({"a"}), frozenset({"b"})}
    b_cc = msg("b", H, subject="Re: Budget", frm=OTHER, to=(ME,), cc=(CLIENT,))
    assert build(a, b_cc) == {frozenset({"a", "b"})}


def test_participants_of_the_whole_conversation_count() -> None:
    # c's only link is to the client in a; b (the most recent "budget") is mine to OTHER.
    a = msg("a", frm=CLIENT, to=(ME,))
    b = msg("b", H, subject="Budget", frm=ME, to=(OTHER,), refs=("a",))
    c = msg("c", 2 * H, subject="Re: Budget", frm=CLIENT, to=(ME,))
    assert build(a, b, c) == {frozenset({"a", "b", "c"})}


def test_merges_done_earlier_count_for_later_candidates() -> None:
    a = msg("a", frm=CLIENT, to=(ME,))
    b = msg("b", H, subject="Re: Budget", frm=ME, to=(CLIENT,), cc=(OTHER,))
    c = msg("c", 2 * H, subject="Re: Budget", frm=OTHER, to=(ME,))
    d = msg("d", 3 * H, subject="Re: Budget", frm=CLIENT, to=(ME,))
    assert build(a, b, c, d) == {frozenset({"a", "b", "c", "d"})}


def test_only_the_most_recent_earlier_message_is_considered() -> None:
    a = msg("a", frm=CLIENT)
    b = msg("b", D, frm=OTHER)  # newer, same base subject, nobody in common with c
    c = msg("c", 2 * D, subject="Re: Budget", frm=CLIENT)
    assert build(a, b, c) == {frozenset({"a"}), frozenset({"b"}), frozenset({"c"})}


def test_the_parent_must_be_strictly_earlier() -> None:
    got = build(msg("a", H), msg("b", H, subject="Re: Budget"))
    assert got == {frozenset({"a"}), frozenset({"b"})}
    later_original = build(msg("a", 2 * H), msg("b", H, subject="Re: Budget"))
    assert later_original == {frozenset({"a"}), frozenset({"b"})}


def test_undated_messages_never_take_part() -> None:
    undated_parent = build(msg("a", None), msg("b", H, subject="Re: Budget"))
    assert undated_parent == {frozenset({"a"}), frozenset({"b"})}
    undated_reply = build(msg("a"), msg("b", None, subject="Re: Budget"))
    assert undated_reply == {frozenset({"a"}), frozenset({"b"})}
    # An undated message "between" them does not hide the dated parent either.
    assert build(msg("a"), msg("u", None), msg("b", H, subject="Re: Budget")) == {
        frozenset({"a", "b"}),
        frozenset({"u"}),
    }


@pytest.mark.parametrize(("irt", "refs"), [(("x",), ()), ((), ("x",)), (("b",), ())])
def test_a_message_with_references_never_joins_by_subject(
    irt: tuple[str, ...], refs: tuple[str, ...]
) -> None:
    got = build(msg("a"), msg("b", H, subject="Re: Budget", irt=irt, refs=refs))
    assert got == {frozenset({"a"}), frozenset({"b"})}


def test_empty_base_subject_never_joins() -> None:
    assert build(msg("a", subject="Re:"), msg("b", H, subject="RE :")) == {
        frozenset({"a"}),
        frozenset({"b"}),
    }


# --- properties ---------------------------------------------------------------------------

IDS = [f"m{i}" for i in range(8)]
ALL_IDS = [*IDS, "absent1", "absent2"]
PEOPLE = [ME, CLIENT, OTHER, "x@y.z"]
SUBJECTS = ["Budget", "Re: Budget", "RE : budget", "Fwd: Budget", "Other", "AW: Other", "Re:", ""]


@st.composite
def mailboxes(draw: st.DrawFn) -> list[Message]:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)))
    out = []
    for mid in ids:
        hours = draw(st.one_of(st.none(), st.integers(0, 24 * 45)))
        out.append(
            msg(
                mid,
                None if hours is None else hours * H,
                subject=draw(st.sampled_from(SUBJECTS)),
                frm=draw(st.sampled_from(PEOPLE)),
                to=tuple(draw(st.lists(st.sampled_from(PEOPLE), max_size=2))),
                cc=tuple(draw(st.lists(st.sampled_from(PEOPLE), max_size=1))),
                irt=tuple(draw(st.lists(st.sampled_from(ALL_IDS), max_size=1))),
                refs=tuple(draw(st.lists(st.sampled_from(ALL_IDS), max_size=3))),
                guid=draw(st.sampled_from([None, None, "g1", "g2"])),
                provider=draw(st.sampled_from([None, None, None, "p1"])),
            )
        )
    return out


def _check_partition(messages: list[Message], convs: list[Conversation]) -> None:
    listed = [mid for c in convs for mid in c.message_ids]
    assert sorted(listed) == sorted({m.message_id for m in messages})
    where = {mid: c.thread_id for c in convs for mid in c.message_ids}
    for m in messages:
        for ref in (*m.in_reply_to, *m.references):
            if ref in where:
                assert where[ref] == where[m.message_id]
    for c in convs:
        assert c.thread_id == thread_id_for(c.message_ids[0])


@settings(max_examples=300, deadline=None)
@given(mailboxes(), st.data())
def test_partition_order_independence_and_idempotence(
    messages: list[Message], data: st.DataObject
) -> None:
    convs = build_conversations(messages, MY)
    _check_partition(messages, convs)

    shuffled = data.draw(st.permutations(messages))
    assert build_conversations(shuffled, MY) == convs
    assert build_conversations(messages + shuffled, MY) == convs  # duplicates are one

    by_id = {m.message_id: m for m in messages}
    for conv in convs:
        again = build_conversations([by_id[mid] for mid in conv.message_ids], MY)
        assert again == [conv]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.lists(st.integers(0, 40), max_size=4)),
        max_size=30,
    )
)
def test_random_reference_graphs_with_cycles(graph: list[tuple[int, list[int]]]) -> None:
    messages = [
        msg(f"n{i}", None, subject="Re: loop", refs=tuple(f"n{r}" for r in refs))
        for i, refs in graph
    ]
    _check_partition(messages, build_conversations(messages, MY))


def test_fifty_thousand_deep_chain_is_one_conversation() -> None:
    n = 50_000
    chain = [
        msg(f"c{i}", i * timedelta(seconds=1), irt=(f"c{i - 1}",) if i else ()) for i in range(n)
    ]
    chain.reverse()  # children before parents: the worst order for a naive threader
    convs = build_conversations(chain, MY)
    assert len(convs) == 1
    assert convs[0].message_ids[0] == "c0"
    assert len(convs[0].message_ids) == n


def test_many_messages_form_a_partition() -> None:
    # Speed on 100,000 messages is measured by tests/benchmarks/bench_threading.py.
    messages = []
    for i in range(20_000):
        messages.append(
            msg(
                f"m{i}",
                i * timedelta(minutes=7),
                subject=("Re: " if i % 3 else "") + f"topic {i % 5000}",
                frm=f"p{i % 400}@acme.fr",
                refs=(f"m{i // 2}",) if i % 5 == 0 and i else (),
            )
        )
    convs = build_conversations(messages, MY)
    ids = [m for c in convs for m in c.message_ids]
    assert sorted(ids) == sorted(m.message_id for m in messages)
