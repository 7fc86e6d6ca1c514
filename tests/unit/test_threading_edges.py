"""Conversation edges the broader tests leave implicit (each kills a mutant of
core/threading.py that survived tests/benchmarks/mutation.py)."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.test_threading import MY, msg

from responsewatch.core.threading import build_conversations, thread_id_for


def test_a_conversation_starts_at_its_earliest_message_not_its_smallest_id() -> None:
    later_smaller_id = msg("a-reply", timedelta(hours=2), irt=("z-first",))
    convs = build_conversations([later_smaller_id, msg("z-first", timedelta(0))], MY)
    assert [c.message_ids for c in convs] == [("z-first", "a-reply")]
    assert convs[0].thread_id == thread_id_for("z-first")


def test_thread_id_of_a_message_id_with_an_undecodable_byte() -> None:
    # A Message-ID read with surrogateescape keeps a lone surrogate: it still gets an id.
    odd = "abc\udcff@example.org"
    assert thread_id_for(odd) == thread_id_for(odd) != thread_id_for("abc@example.org")
    assert len(thread_id_for(odd)) == 17
