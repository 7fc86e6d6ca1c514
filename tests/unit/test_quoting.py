"""The one quote stripper shared by thanks-only and agreement detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.core import agreements, classify
from responsewatch.core.quoting import strip_quotes

HISTORY = {
    "fr-gmail": "Le lun. 16 nov. 2026 à 18:04, Claire Martin <c@m.fr> a écrit :\n> Le devis ?\n",
    "fr-gmail-wrapped": "Le lun. 16 nov. 2026 à 18:04, Claire Martin <claire@martin-conseil.fr>\n"
    "a écrit :\n> Le devis ?\n",
    "en-gmail": "On Mon, Nov 16, 2026 at 6:04 PM Claire <c@m.fr> wrote:\n> The quote?\n",
    "eudora": "At 10:12 AM 11/3/2001 -0800, John Smith wrote:\n> The quote?\n",
    "de-gmail": "Am 16.11.2026 um 18:04 schrieb Claire <c@m.fr>:\n> Das Angebot?\n",
    "original": "-----Original Message-----\nFrom: Claire\nSent: Monday\nSubject: Quote\n\nOK?",
    "origine": "-----Message d'origine-----\nDe : Claire\nEnvoyé : lundi\nObjet : Devis\n\nOK ?",
    "ursprung": "-----Ursprüngliche Nachricht-----\nVon: Claire\nBetreff: Angebot\n\nOK?",
    "outlook-fr": "De : Claire Martin <c@m.fr>\nEnvoyé : lundi 16 novembre 2026 18:04\n"
    "À : Jean\nObjet : Devis\n\nPouvez-vous valider ?",
    "outlook-en": "From: Claire Martin\nSent: Monday, November 16, 2026 6:04 PM\nTo: Jean\n"
    "Subject: Quote\n\nCan you approve?",
    "outlook-de": "Von: Claire Martin\nGesendet: Montag, 16. November 2026 18:04\nAn: Jean\n"
    "Betreff: Angebot\n\nKönnen Sie das freigeben?",
    "outlook-one-line": "*From:* Claire *Sent:* Monday *To:* Jean *Subject:* Quote\nApprove?",
    "underscores": "________________________________\nDe : Claire\nObjet : Devis\n\nOK ?",
    "forwarded": "---------- Forwarded message ---------\nFrom: Claire\nDate: Mon\n\nOK?",
    "notes": "Claire Martin@ECT\n10/10/2000 08:32 AM\nTo: Jean/HOU/ECT@ECT\ncc:\n"
    "Subject: Quote\n\nApproved?",
    "notes-on": "Claire <c@m.fr> on 10/10/2000 08:32:41 AM\nTo: Jean\ncc:\nSubject: x\n\nOK?",
    "signature": "-- \nJean Dupont\nAgréé, approuvé ISO 9001\n",
    "iphone-fr": "Envoyé de mon iPhone\n",
    "iphone-en": "Sent from my iPhone\n",
    "outlook-mobile": "Get Outlook for Android\n",
    "iphone-de": "Von meinem iPhone gesendet\n",
    "quoted": "> Pouvez-vous valider ?\n>> Merci\n",
}


@pytest.mark.parametrize("name", sorted(HISTORY))
def test_history_headers_and_signatures_are_cut(name: str) -> None:
    assert strip_quotes(f"Bien reçu, merci.\n\n{HISTORY[name]}") == "Bien reçu, merci."


@pytest.mark.parametrize("name", sorted(HISTORY))
def test_thanks_only_above_any_history(name: str) -> None:
    # Issue 23: "Bien reçu, merci." above an Outlook French block opened a false turn.
    assert classify.is_thanks_only(f"Bien reçu, merci.\n\n{HISTORY[name]}")
    assert not classify.is_thanks_only(f"Bien reçu, mais pourquoi ?\n\n{HISTORY[name]}")


def test_mobile_signoff_does_not_count_as_words() -> None:
    body = "Merci beaucoup pour tout, à très vite et bonne soirée\n\nEnvoyé de mon iPhone"
    assert classify.is_thanks_only(body)


def test_inline_answers_under_a_wrote_header_are_new_text() -> None:
    body = (
        "At 10:12 AM 11/3/2001 -0800, Claire Martin wrote:\n"
        "> Do you approve the revised quote?\n"
        "Yes, approved.\n"
        "> And the start date?\n"
        "Monday is fine.\n"
    )
    assert strip_quotes(body) == "Yes, approved.\n\nMonday is fine.".replace("\n\n", "\n")
    assert agreements.detect_agreement(body) is not None


def test_outlook_history_below_the_answer_is_not_new_text() -> None:
    body = "Thanks.\n\nFrom: Claire\nSent: Monday\nTo: Jean\nSubject: Quote\n\nApproved."
    assert strip_quotes(body) == "Thanks."


def test_a_lone_from_line_in_prose_stays() -> None:
    assert strip_quotes("De : notre côté, c'est validé.\nMerci") == (
        "De : notre côté, c'est validé.\nMerci"
    )


def test_both_rules_use_this_stripper() -> None:
    body = "Merci !\n\nDe : Claire\nEnvoyé : lundi\nÀ : Jean\nObjet : Devis\n\nJe valide ?"
    assert classify.new_text(body) == strip_quotes(body) == "Merci !"
    assert agreements.new_text(body) == "Merci !"


# --- properties -----------------------------------------------------------------------------

_LINE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\n"),
    max_size=60,
)
_PROSE = st.lists(
    st.sampled_from(
        [
            "je",
            "valide",
            "merci",
            "nous",
            "approved",
            "ok",
            "the",
            "quote",
            "devis",
            "bonjour",
            "thanks",
            "demain",
            "12",
            "mardi",
        ]
    ),
    min_size=1,
    max_size=10,
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINE, max_size=12))
def test_stripping_is_idempotent(lines: list[str]) -> None:
    once = strip_quotes("\n".join(lines))
    assert strip_quotes(once) == once


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINE, max_size=12))
def test_quoted_only_text_is_empty(lines: list[str]) -> None:
    assert strip_quotes("\n".join(">" + line for line in lines)) == ""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PROSE, st.lists(_LINE, max_size=3)), min_size=1, max_size=6))
def test_unquoted_answers_between_quotes_are_never_lost(
    turns: list[tuple[str, list[str]]],
) -> None:
    body = ["On Mon, Nov 16, 2026 at 6:04 PM Claire <c@m.fr> wrote:", "> Hello"]
    for answer, quoted in turns:
        body.append(answer)
        body.extend("> " + q for q in quoted)
    assert strip_quotes("\n".join(body)).split("\n") == [answer for answer, _ in turns]


@settings(max_examples=200, deadline=None)
@given(_PROSE, st.sampled_from(sorted(HISTORY)), st.lists(_LINE, max_size=5))
def test_history_never_changes_the_new_text(prose: str, name: str, tail: list[str]) -> None:
    # Below a ">"-quoted history an unquoted line is an inline answer, so the tail is quoted
    # there; below an Outlook block or a separator anything goes.
    prefix = "> " if "\n>" in HISTORY[name] else ""
    history = HISTORY[name] + "\n".join(prefix + line for line in tail)
    assert strip_quotes(f"{prose}\n\n{history}") == strip_quotes(prose) == prose


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_never_raises_and_never_grows(body: str) -> None:
    assert len(strip_quotes(body)) <= len(body)


def test_thanks_only_reads_design_literally_inline_answers_are_history() -> None:
    # DESIGN.md: "everything from a reply header" is removed before the thanks-only count, so
    # an answer written between quoted lines is not new text for thanks-only (the JSON
    # contract), while the agreement detector still reads it.
    from responsewatch.core.classify import is_thanks_only, new_text

    body = (
        "Hello Claire,\n\nOn Mon, Nov 16, 2026 at 6:04 PM Claire <c@m.fr> wrote:\n"
        "> Patch?\n\nThanks! Applied.\n"
    )
    assert new_text(body) == "Hello Claire,"
    assert not is_thanks_only(body)
    assert "Thanks! Applied." in strip_quotes(body)
    assert strip_quotes(body, inline_answers=False) == "Hello Claire,"
