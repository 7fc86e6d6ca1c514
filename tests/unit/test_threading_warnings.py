"""Only a forged "from me" is cut off from threading (DESIGN.md "Forged mail"): a client's
message that carries parse warnings, even the authentication-failure one, still threads by
its headers, its Thread-Index and the subject fallback. The fallback is on unless the caller
turns it off. (Each kills a mutant of core/threading.py that survived
tests/benchmarks/mutation.py: `warnings or is_suspicious`, a wrong argument to
is_suspicious, `me` not passed down, the default of `subject_fallback`.)"""

from __future__ import annotations

import dataclasses

import pytest
from tests.unit.test_threading import CLIENT, ME, MY, H, build, groups, msg

from responsewatch.core.forged import AUTH_FAIL
from responsewatch.core.models import Message
from responsewatch.core.threading import build_conversations

# A benign parse warning, and the authentication failure recorded for the client's domain.
WARNINGS = [("bad-date",), (AUTH_FAIL,), ("bad-date", AUTH_FAIL)]


def _warned(m: Message, warnings: tuple[str, ...]) -> Message:
    return dataclasses.replace(m, warnings=warnings)


@pytest.mark.parametrize("warnings", WARNINGS)
def test_a_clients_message_with_warnings_threads_by_its_headers(warnings: tuple[str, ...]) -> None:
    got = build(
        msg("a", frm=ME, to=(CLIENT,), subject="Devis"),
        _warned(msg("b", H, subject="Autre chose", irt=("a",)), warnings),
    )
    assert got == {frozenset({"a", "b"})}


@pytest.mark.parametrize("warnings", WARNINGS)
def test_a_clients_message_with_warnings_threads_by_thread_index(warnings: tuple[str, ...]) -> None:
    got = build(
        msg("a", frm=ME, to=(CLIENT,), subject="Devis", guid="G1"),
        _warned(msg("b", H, subject="Autre chose", guid="G1"), warnings),
        fallback=False,
    )
    assert got == {frozenset({"a", "b"})}


@pytest.mark.parametrize("warnings", WARNINGS)
def test_a_clients_message_with_warnings_threads_by_subject(warnings: tuple[str, ...]) -> None:
    got = build(
        msg("a", frm=ME, to=(CLIENT,), subject="Devis"),
        _warned(msg("b", H, subject="Re: Devis"), warnings),
    )
    assert got == {frozenset({"a", "b"})}


def test_a_forged_from_me_with_the_same_links_threads_nothing() -> None:
    # The contrast: the same three links from a message claiming to be me, auth failed.
    forged = _warned(
        msg("b", H, subject="Re: Devis", frm=ME, to=(CLIENT,), irt=("a",), guid="G1"),
        (AUTH_FAIL,),
    )
    got = build(msg("a", frm=ME, to=(CLIENT,), subject="Devis", guid="G1"), forged)
    assert got == {frozenset({"a"}), frozenset({"b"})}


def test_the_subject_fallback_is_on_by_default() -> None:
    messages = [msg("a", frm=ME, to=(CLIENT,)), msg("b", H, subject="Re: Budget")]
    assert groups(build_conversations(messages, MY)) == {frozenset({"a", "b"})}
    off = build_conversations(messages, MY, subject_fallback=False)
    assert groups(off) == {frozenset({"a"}), frozenset({"b"})}
