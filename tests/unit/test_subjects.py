"""Reply/forward prefixes and base subjects (DESIGN.md "Conversations")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from responsewatch.core.subjects import (
    FORWARD_PREFIXES,
    REPLY_PREFIXES,
    base_subject,
    has_reply_prefix,
    is_forward_subject,
    split_subject,
    subject_prefixes,
)


@pytest.mark.parametrize(
    ("subject", "prefix"),
    [
        ("Re: Budget", "re"),
        ("RE: Budget", "re"),
        ("re:Budget", "re"),
        ("RE : Budget", "re"),  # French space before the colon
        ("Re\u00a0: Budget", "re"),  # ... typed as a no-break space
        ("Re[2]: Budget", "re"),
        ("Re(3): Budget", "re"),
        ("RE[12] : Budget", "re"),
        ("Réf. : Budget", "réf"),
        ("RÉF : Budget", "réf"),
        ("Re\u0301f : Budget", "réf"),  # decomposed é (NFD) is the same prefix
        ("Ref: Budget", "ref"),
        ("Rép : Budget", "rép"),
        ("REP: Budget", "rep"),
        ("AW: Budget", "aw"),
        ("Aw:Budget", "aw"),
        ("SV: Budget", "sv"),
        ("VS: Budget", "vs"),
        ("Antw: Budget", "antw"),
        ("ODP: Budget", "odp"),
        ("Re：Budget", "re"),  # full-width colon
    ],
)
def test_reply_prefixes(subject: str, prefix: str) -> None:
    assert subject_prefixes(subject) == (prefix,)
    assert has_reply_prefix(subject)
    assert not is_forward_subject(subject)
    assert base_subject(subject) == "budget"


@pytest.mark.parametrize(
    ("subject", "prefix"),
    [
        ("Fwd: Budget", "fwd"),
        ("FWD: Budget", "fwd"),
        ("Fw: Budget", "fw"),
        ("FW : Budget", "fw"),
        ("TR : Budget", "tr"),
        ("TR: Budget", "tr"),
        ("WG: Budget", "wg"),
        ("RV: Budget", "rv"),
        ("Fwd[2]: Budget", "fwd"),
    ],
)
def test_forward_prefixes(subject: str, prefix: str) -> None:
    assert subject_prefixes(subject) == (prefix,)
    assert is_forward_subject(subject)
    assert not has_reply_prefix(subject)
    assert base_subject(subject) == "budget"


@pytest.mark.parametrize(
    "subject",
    [
        "Reg: Budget",
        "REG : Budget",
        "Return: Budget",
        "Trouble: Budget",
        "Fwding Budget",
        "Refs: Budget",
        "Rex: Budget",
        "RES: Budget",  # Portuguese, not in DESIGN.md's list
        "R: Budget",  # Italian, not in the list
        "Ad: Budget",
        "E320 : Budget",
        "Re Budget",
        "Re - Budget",
        "Hello Re: Budget",  # prefixes count only at the start
    ],
)
def test_look_alikes_are_not_prefixes(subject: str) -> None:
    assert subject_prefixes(subject) == ()
    assert not has_reply_prefix(subject)
    assert not is_forward_subject(subject)
    assert base_subject(subject) == " ".join(subject.casefold().split())


def test_prefixes_stack_in_order_with_list_tags_between() -> None:
    subject = "  [acme] Re: [EXT] AW:Re[2]: [x-y] Fwd : Budget  [draft]"
    assert subject_prefixes(subject) == ("re", "aw", "re", "fwd")
    assert base_subject(subject) == "budget [draft]"
    assert split_subject(subject) == (subject_prefixes(subject), base_subject(subject))


def test_forward_is_decided_by_the_first_prefix_only() -> None:
    assert is_forward_subject("[acme] Fwd: Re: Budget")
    assert has_reply_prefix("[acme] Fwd: Re: Budget")
    assert not is_forward_subject("Re: Fwd: Budget")
    assert not is_forward_subject("Budget Fwd: x")
    assert not is_forward_subject("")


def test_base_subject_folds_case_and_collapses_whitespace() -> None:
    assert base_subject("Re:  Straße\tNEUE   Preise \r\n ") == "strasse neue preise"
    assert base_subject("[list]   ") == ""
    assert base_subject("Re:") == ""
    assert base_subject("") == ""
    assert base_subject("Budget [Re: x]") == "budget [re: x]"


def test_prefix_sets_match_design() -> None:
    assert {"re", "réf", "ref", "rép", "rep", "aw", "sv", "vs", "antw", "odp"} == REPLY_PREFIXES
    assert {"fwd", "fw", "tr", "wg", "rv"} == FORWARD_PREFIXES


@given(st.text())
def test_a_reply_prefix_adds_nothing_to_the_base_subject(rest: str) -> None:
    assert base_subject("Re: " + rest) == base_subject(rest)
    assert subject_prefixes("RE : " + rest) == ("re", *subject_prefixes(rest))
    assert has_reply_prefix("[list] Re: " + rest)


@given(st.text())
def test_base_subject_is_normalized(subject: str) -> None:
    base = base_subject(subject)
    assert base == base.strip()
    assert "  " not in base
    assert base == " ".join(base.split())
