from __future__ import annotations

import pytest

from responsewatch.core.classify import is_auto_reply, is_automated, is_thanks_only, new_text


@pytest.mark.parametrize(
    "fields",
    [
        {"auto-submitted": ["auto-generated"]},
        {"auto-submitted": ["auto-replied; owner-email=x"]},
        {"precedence": ["bulk"]},
        {"precedence": ["Junk"]},
        {"precedence": ["list"]},
        {"precedence": ["auto_reply"]},
        {"list-id": ["<x.example>"]},
        {"list-unsubscribe": ["<mailto:x>"]},
        {"x-autoreply": ["yes"]},
        {"x-autorespond": ["1"]},
        {"return-path": ["<>"]},
        {"content-type": ["multipart/report; report-type=delivery-status"]},
    ],
)
def test_automated_signals(fields: dict[str, list[str]]) -> None:
    assert is_automated(fields, "jean@acme.fr")


@pytest.mark.parametrize(
    "sender",
    [
        "noreply@acme.fr",
        "no-reply@acme.fr",
        "donotreply@x.com",
        "mailer-daemon@x.com",
        "postmaster@x.com",
        "notifications@github.com",
        "noreply+tag@x.com",
    ],
)
def test_robot_senders(sender: str) -> None:
    assert is_automated({}, sender)


def test_not_automated() -> None:
    assert not is_automated({"auto-submitted": ["no"]}, "jean@acme.fr")
    assert not is_automated({"x-auto-response-suppress": ["All"]}, "jean@acme.fr")
    assert not is_automated({"precedence": ["first-class"]}, "jean@acme.fr")
    assert not is_automated({"return-path": ["<jean@acme.fr>"]}, "jean@acme.fr")
    assert not is_automated({}, "noreplyjean@acme.fr")


def test_auto_reply() -> None:
    assert is_auto_reply({"auto-submitted": ["auto-replied"]}, "x")
    assert is_auto_reply({}, "Réponse automatique : absence")
    assert is_auto_reply({}, "Automatic reply: Projet")
    assert not is_auto_reply({}, "Re: Projet")


@pytest.mark.parametrize(
    "text",
    [
        "Merci !",
        "Thanks a lot.",
        "Thank you",
        "OK",
        "D'accord, parfait.",
        "D’accord",
        "Bien reçu.",
        "Noted, thanks",
        "Super, top.",
        "Great!\n-- \nJean Dupont\nDirecteur? Questions?",
        "Merci.\n\nLe lun. 2 nov. 2026 à 10:00, Claire <c@m.fr> a écrit :\n> Avez-vous lu ?",
        "Merci.\n\nLe lun. 2 nov. 2026 à 10:00, Claire <c@m.fr> a\nécrit :\n> Avez-vous lu ?",
        "Thanks\n\nOn Mon, Nov 2, 2026 at 10:00 AM Claire wrote:\n> Did you?",
        "Merci\n\n-----Original Message-----\nFrom: Claire\nSent: ...\nQuestion ?",
        "Merci\n\nDe : Claire Martin\nEnvoyé : lundi\nObjet : question ?",
        "Merci\n> quoted question?\n> more",
    ],
)
def test_thanks_only(text: str) -> None:
    assert is_thanks_only(text)


@pytest.mark.parametrize(
    "text",
    [
        "Merci, pouvez-vous aussi m'envoyer le devis ?",
        "Merci pour le document. Je le relis ce soir avec l'équipe et je reviens vers vous "
        "demain avec nos commentaires détaillés.",
        "Bonjour, voici le fichier.",
        "",
        "the laptop stopped",  # "top" must be a whole word
        "Booking confirmed",
    ],
)
def test_not_thanks_only(text: str) -> None:
    assert not is_thanks_only(text)


def test_twelve_words_is_the_limit() -> None:
    assert is_thanks_only("merci " + " ".join(["mot"] * 11))
    assert not is_thanks_only("merci " + " ".join(["mot"] * 12))


def test_new_text_drops_quotes_and_signature() -> None:
    assert new_text("Hello\n> quoted\nthere\n-- \nsig") == "Hello\nthere"
