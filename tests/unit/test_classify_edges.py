"""DESIGN.md "Automated mail" signals as real mail writes them: any case, surrounding
whitespace, header names in any case; and auto-reply subjects matched at the start only.

Each case goes through the real parser (header names are case-insensitive there) and, where
the value alone matters, through the classifier directly.
"""

from __future__ import annotations

import pytest
from tests.support.build import ME, T0, raw

from responsewatch.core.classify import (
    is_auto_reply,
    is_automated,
    is_robot_address,
    is_thanks_only,
)
from responsewatch.core.parsing import parse_message

CLIENT = "jean@acme.fr"


def parsed(*extra: str, sender: str = CLIENT, subject: str = "Projet"):
    return parse_message(raw("e1@acme.fr", sender, [ME], T0, subject=subject, extra=extra))


@pytest.mark.parametrize(
    "value", ["No", "NO", "no", " No ", "\tnO\t", "No; comment", "No ; owner=x"]
)
def test_auto_submitted_no_in_any_case_is_not_automated(value: str) -> None:
    assert not is_automated({"auto-submitted": [value]}, CLIENT)
    assert not parsed(f"Auto-Submitted: {value}").automated
    assert not parsed(f"AUTO-SUBMITTED: {value}").automated


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: Auto-Generated",
        "auto-submitted:   AUTO-REPLIED ",
        "AUTO-SUBMITTED: auto-notified; owner-email=x@y",
        "Precedence:  Bulk ",
        "PRECEDENCE: JUNK",
        "precedence: List",
        "Precedence: AUTO_REPLY",
        "LIST-ID: <team.acme.fr>",
        "list-unsubscribe: <mailto:u@acme.fr>",
        "List-Unsubscribe:   <https://acme.fr/u>",
        "X-AUTOREPLY: yes",
        "x-autorespond: 1",
        "X-AutoRespond: ",
        "Return-Path: < >",
        "RETURN-PATH:  <>  ",
        "return-path:\t<\t>",
        "Content-Type:  Multipart/Report ; report-type=delivery-status; boundary=b",
        "CONTENT-TYPE: MULTIPART/REPORT; boundary=b",
    ],
)
def test_automated_signals_in_any_case_and_with_whitespace(header: str) -> None:
    assert parsed(header).automated, header


@pytest.mark.parametrize(
    "sender",
    [
        "NoReply@acme.fr",
        "NO-REPLY@acme.fr",
        "DoNotReply@acme.fr",
        "Mailer-Daemon@acme.fr",
        "PostMaster@acme.fr",
        "Notifications@acme.fr",
        "Robot <NoReply+bounce@acme.fr>",
    ],
)
def test_robot_local_parts_in_any_case(sender: str) -> None:
    assert parsed(sender=sender).automated


@pytest.mark.parametrize(
    "header",
    [
        "X-Auto-Response-Suppress: All",  # Outlook sets it on ordinary mail
        "Precedence: first-class",
        "Precedence: bulky",  # a whole value, not a prefix
        "Return-Path: <jean@acme.fr>",
        "Content-Type: multipart/mixed; boundary=b",
        "Content-Type: text/plain; report-type=multipart/report",
        "Auto-Submitted: no-thanks",  # not "no": anything else is automated ...
    ],
)
def test_look_alikes(header: str) -> None:
    expected = header.startswith("Auto-Submitted")  # ... as DESIGN.md reads
    assert parsed(header).automated is expected, header


@pytest.mark.parametrize(
    "subject",
    [
        "Re: absence du 3 mai",
        "Planning des absences",
        "Absences du comité",  # "absence" must end at a word boundary
        "TR: Automatic reply: Projet",
        "Question sur la réponse automatique de votre outil",
        "Fwd: Out of office",
        "Notre autoreply ne marche plus",
    ],
)
def test_auto_reply_subject_matches_at_the_start_only(subject: str) -> None:
    assert not is_auto_reply({}, subject)
    assert not parsed(subject=subject).auto_reply


@pytest.mark.parametrize(
    "subject",
    [
        "Absence du 3 au 5 mai",
        "  absence : Jean Dupont",
        "AUTOMATIC REPLY: Projet",
        "Automatic Reply: Projet",
        "Auto-Reply: Projet",
        "AutoReply: Projet",
        "Auto reply: Projet",
        "Réponse automatique : Projet",
        "REPONSE AUTOMATIQUE : Projet",
        "Out of Office: Projet",
        "OUT OF THE OFFICE until Monday",
        "Abwesenheitsnotiz: Projet",
    ],
)
def test_auto_reply_subjects_in_any_case(subject: str) -> None:
    assert is_auto_reply({}, subject)
    assert parsed(subject=subject).auto_reply


@pytest.mark.parametrize(
    "header",
    ["Auto-Submitted: Auto-Replied", "auto-submitted:  AUTO-REPLIED ; x", "X-AUTOREPLY: 1"],
)
def test_auto_reply_headers_in_any_case(header: str) -> None:
    assert parsed(header).auto_reply


def test_auto_submitted_other_values_are_not_auto_replies() -> None:
    # auto-generated mail is automated, but it is not an out-of-office reply.
    assert not parsed("Auto-Submitted: auto-generated").auto_reply
    assert not is_auto_reply({"auto-submitted": ["no"]}, "Projet")


# -- found by the mutation run (tests/benchmarks/mutation.py) ------------------------------


def test_x_autorespond_alone_marks_an_auto_reply() -> None:
    assert is_auto_reply({"x-autorespond": ["yes"]}, "Projet")
    assert parsed("X-Autorespond: yes").auto_reply


def test_auto_submitted_no_with_several_parameters() -> None:
    assert not is_automated({"auto-submitted": ["No; comment=a; more=b"]}, CLIENT)


def test_robot_local_parts_without_domain_or_with_several_tags() -> None:
    # Bounces often come "From: MAILER-DAEMON" with no domain at all.
    assert is_robot_address("mailer-daemon")
    assert is_robot_address("noreply+bounce+42@acme.fr")
    assert not is_robot_address("jean+noreply@acme.fr")
    assert not is_robot_address(None) and not is_robot_address("")
    assert not is_automated({}, None)  # no From at all is not a robot signal


def test_indented_quotes_are_quotes() -> None:
    assert is_thanks_only("Merci\n  > Avez-vous lu le document ?\n\t> et celui-ci ?")


LONG_WROTE = "Le lundi 2 novembre 2026 à 10:00, Claire Martin <claire@martin-conseil.fr> a"


def test_reply_header_wrapped_over_two_lines_ends_the_new_text() -> None:
    assert is_thanks_only(f"Merci.\n{LONG_WROTE}\nécrit :\nAvez-vous reçu le document ?")
    # ... also as the last two lines (13 words if the header were counted)
    assert is_thanks_only(f"Merci.\n{LONG_WROTE}\nécrit :")
    # a line that only looks like its start, followed by an ordinary line, is kept
    assert not is_thanks_only("Merci.\nLe devis est prêt, il a\nété validé ?")
