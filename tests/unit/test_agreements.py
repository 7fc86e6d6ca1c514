"""Agreement detection: phrases, suppressors, new-text extraction and the labelled set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.core.agreements import detect_agreement, new_text

LABELLED = Path(__file__).resolve().parents[1] / "data" / "agreements" / "labelled.jsonl"


def phrase_of(body: str, **kwargs: object) -> str | None:
    found = detect_agreement(body, **kwargs)  # type: ignore[arg-type]
    return found.phrase if found else None


# --- every phrase, positive ---------------------------------------------------------------

POSITIVES = [
    ("Je valide le devis.", "je valide", "fr"),
    ("C'est validé, merci.", "c'est validé", "fr"),
    ("C’est validée pour nous.", "c'est validé", "fr"),
    ("C'est OK pour nous.", "c'est ok pour nous", "fr"),
    ("Validé de notre côté.", "validé de notre côté", "fr"),
    ("OK pour le devis.", "ok pour le devis", "fr"),
    ("Bon pour accord.", "bon pour accord", "fr"),
    ("BPA", "bon pour accord", "fr"),
    ("Nous validons la proposition.", "nous validons", "fr"),
    ("J’approuve le cahier des charges.", "j'approuve", "fr"),
    ("J'approuve le planning.", "j'approuve", "fr"),
    ("Feu vert pour la suite.", "feu vert", "fr"),
    ("Lancez la production.", "lancez", "fr"),
    ("Nous acceptons votre offre.", "nous acceptons", "fr"),
    ("Accord pour démarrer en janvier.", "accord pour", "fr"),
    ("Go pour la phase 2.", "go pour", "fr"),
    ("Vous pouvez lancer la commande.", "vous pouvez lancer", "fr"),
    ("Le devis est validé.", "validé", "fr"),
    ("Le contrat est signé.", "signé", "fr"),
    ("Ci-joint notre bon de commande.", "bon de commande", "fr"),
    ("Je vous confirme notre accord pour la phase 2.", "notre accord", "fr"),
    ("Pas de souci, c'est validé.", "c'est validé", "fr"),
    ("VALIDÉ DE NOTRE CÔTÉ", "validé de notre côté", "fr"),
    ("Approved.", "approved", "en"),
    ("Agreed.", "agreed", "en"),
    ("Please proceed.", "please proceed", "en"),
    ("Go ahead with phase 2.", "go ahead", "en"),
    ("Sounds good, go ahead.", "go ahead", "en"),
    ("Signed copy attached.", "signed", "en"),
    ("You have our approval.", "you have our approval", "en"),
    ("We accept the quote.", "we accept", "en"),
    ("No worries, approved.", "approved", "en"),
    ("We're happy to proceed with the quote.", "happy to proceed", "en"),
    ("Nous retenons votre proposition.", "retenu", "fr"),
    ("Vous avez le go de la direction.", "feu vert", "fr"),
    ("Le bon de commande vient d'être émis.", "bon de commande", "fr"),
]


@pytest.mark.parametrize(("body", "phrase", "language"), POSITIVES)
def test_each_phrase_is_detected(body: str, phrase: str, language: str) -> None:
    found = detect_agreement(body)
    assert found is not None
    assert (found.phrase, found.excerpt, found.language) == (phrase, body, language)
    assert found.rule.startswith(f"{language}.")


# --- every suppressor, negative -----------------------------------------------------------

NEGATIVES = [
    # negation
    "Je ne valide pas le devis.",
    "Ce n'est pas validé.",
    "Le devis n'est pas validé.",
    "Le devis n'est pas encore validé.",
    "Je valide pas.",
    "Nous ne validons pas.",
    "Not approved.",
    "We don't agree.",
    "We cannot approve this.",
    "This was never approved.",
    "We no longer accept quotes by email.",
    "We haven't signed it.",
    # question
    "C'est validé ?",
    "Pouvez-vous valider le devis ?",
    "Pourriez-vous nous dire si c'est validé.",
    "Est-ce que c'est validé pour vous",
    "Can you go ahead with the order",
    "Could you confirm it is approved",
    "Would you approve a delay",
    "Approved?",
    # conditional / future
    "Si le budget passe, c'est validé.",
    "If approved, we start in May.",
    "Une fois que le comité aura statué, c'est validé.",
    "Je validerai le devis demain.",
    "Nous validerons la proposition en janvier.",
    "We will approve it next week.",
    "We would approve it with a lower rate.",
    "Once signed, I'll send it back.",
    "Approval pending, go ahead is expected next week.",
    "Bon pour accord sous réserve de l'article 4.",
    # request for approval
    "Merci de valider le devis.",
    "Please approve the timesheet.",
    "Je vous envoie le devis pour validation.",
    "Le devis est à valider.",
    "The PO is awaiting approval.",
    "Sending the SOW for your approval.",
    "Merci de nous retourner le devis avec la mention bon pour accord.",
    # meetings are not approvals
    "D'accord pour un point mardi à 14h.",
    "Agreed, let's meet on Tuesday at 3pm.",
    # a signed document from me, adjectives, reported or hoped-for approvals
    "Nous avons bien reçu le contrat signé par vos soins.",
    "Thanks for the signed contract, I'll file it.",
    "C'est validé pour la réunion de jeudi.",
    "The approved budget for this year is lower.",
    "Let me know when it's approved on your end.",
    "Il faudrait que le contrat soit signé avant le 15.",
    "Your proposal looks good but I need to get it approved by the board.",
    # no approval phrase at all
    "Comme convenu, voici le compte rendu.",
    "As agreed, please find the notes attached.",
    "We signed up for the webinar.",
]


@pytest.mark.parametrize("body", NEGATIVES)
def test_suppressed_or_absent(body: str) -> None:
    assert detect_agreement(body) is None


def test_negation_in_another_clause_does_not_suppress() -> None:
    assert phrase_of("Je ne suis pas disponible mardi, mais je valide le devis.") == "je valide"
    assert phrase_of("Je n'ai pas eu le temps de tout relire, je valide quand même.") == (
        "je valide"
    )


def test_question_in_another_sentence_does_not_suppress() -> None:
    found = detect_agreement("C'est validé. Pouvez-vous envoyer la facture ?")
    assert found is not None
    assert found.excerpt == "C'est validé."


def test_polite_sil_vous_plait_is_not_a_condition() -> None:
    assert phrase_of("Lancez la commande s'il vous plaît.") == "lancez"


# --- new text: quotes, reply headers, signatures ------------------------------------------

FR_GMAIL = (
    "Je regarde.\n\nLe lun. 16 nov. 2026 à 18:04, Claire Martin <claire@martin-conseil.fr>"
    " a écrit :\n> Je valide.\n"
)
FR_GMAIL_WRAPPED = (
    "Je regarde.\n\nLe lun. 16 nov. 2026 à 18:04, Claire Martin <claire@martin-conseil.fr> a\n"
    "écrit :\n\n> Je valide.\n"
)
EN_GMAIL_WRAPPED = (
    "Let me check.\n\nOn Mon, Nov 16, 2026 at 6:04 PM Claire Martin <claire@martin-conseil.fr>\n"
    "wrote:\n\n> Approved.\n"
)
FR_OUTLOOK = (
    "Je regarde.\n\nDe : Jean Dupont <jean@acme.fr>\nEnvoyé : lundi 16 novembre 2026 18:04\n"
    "À : Claire Martin\nObjet : RE: Devis\n\nBon pour accord.\n"
)
EN_OUTLOOK = (
    "Let me check.\n\n________________________________\nFrom: John Smith <john@nw.co.uk>\n"
    "Sent: Monday, November 16, 2026 6:04 PM\nTo: Claire Martin\nSubject: RE: Quote\n\n"
    "We accept the proposal.\n"
)
ORIGINAL = "Let me check.\n\n-----Original Message-----\nFrom: John\nSent: today\n\nApproved.\n"
ORIGINE = "Je regarde.\n\n-----Message d’origine-----\nDe : Jean\nEnvoyé : lundi\n\nJe valide.\n"
UNDERSCORES = "Je regarde.\n________________\nJe valide.\n"
SIGNATURE = "Je regarde.\n-- \nJean Dupont\nProcédures approuvées ISO 9001\n"
SIGNOFF_DISCLAIMER = (
    "Je regarde.\n\nCordialement,\nJean Dupont\n\nCe message est confidentiel et destiné à "
    "ses seuls destinataires. Aucun engagement n'est réputé validé ou approuvé par courriel.\n"
)
EN_DISCLAIMER = (
    "Let me check.\n\nKind regards,\nEmma\n\nThis email is confidential and intended solely for "
    "the addressee. Nothing in it shall be deemed agreed or approved unless signed.\n"
)
QUOTED_LINES = "> Je valide.\n> Approved.\nJe regarde."
IPHONE = "Je regarde.\n\nEnvoyé de mon iPhone\n\nLe 16 nov. 2026 à 18:04, Claire a écrit :\n> OK\n"


@pytest.mark.parametrize(
    "body",
    [
        FR_GMAIL,
        FR_GMAIL_WRAPPED,
        EN_GMAIL_WRAPPED,
        FR_OUTLOOK,
        EN_OUTLOOK,
        ORIGINAL,
        ORIGINE,
        UNDERSCORES,
        SIGNATURE,
        SIGNOFF_DISCLAIMER,
        EN_DISCLAIMER,
        QUOTED_LINES,
        IPHONE,
    ],
)
def test_new_text_drops_history_signature_and_disclaimer(body: str) -> None:
    assert new_text(body) in ("Je regarde.", "Let me check.")
    assert detect_agreement(body) is None


def test_new_text_keeps_inline_answers_between_quotes() -> None:
    body = "> Pouvez-vous valider ?\nOui, je valide.\n> Et le planning ?\nOK pour le planning."
    assert new_text(body) == "Oui, je valide.\nOK pour le planning."
    assert phrase_of(body) == "je valide"


def test_new_text_handles_crlf() -> None:
    body = "Je valide.\r\n\r\nLe 16/11/2026 à 18:04, Claire a écrit :\r\n> Merci de valider\r\n"
    assert new_text(body) == "Je valide."


def test_a_lone_de_line_in_prose_is_not_a_header() -> None:
    body = "Bonjour,\nDe : notre côté, c'est validé.\nMerci"
    assert phrase_of(body) == "c'est validé"


def test_signoff_followed_by_text_is_not_a_signature() -> None:
    assert phrase_of("Bonjour,\nMerci pour tout.\nBonne journée, je valide le devis.") == (
        "je valide"
    )


def test_wrapped_lines_are_one_sentence() -> None:
    found = detect_agreement("Après relecture avec notre direction, nous\nvalidons le devis.")
    assert found is not None
    assert found.excerpt == "Après relecture avec notre direction, nous validons le devis."


def test_excerpt_is_at_most_200_chars() -> None:
    body = "Je valide le devis " + "et tout le reste " * 30 + "."
    found = detect_agreement(body)
    assert found is not None
    assert len(found.excerpt) <= 200


# --- subject, sender, automation, attachments ---------------------------------------------


def test_approval_only_in_subject_does_not_count() -> None:
    assert detect_agreement("Je reviens vers vous demain.", subject="Bon pour accord") is None
    assert detect_agreement("I'll look tomorrow.", subject="Approved: SOW v2") is None


def test_my_own_and_automated_messages_never_count() -> None:
    assert detect_agreement("Je valide.", from_me=True) is None
    assert detect_agreement("Your order has been approved.", automated=True) is None
    assert detect_agreement("Ci-joint.", attachments=["devis signé.pdf"], from_me=True) is None
    assert detect_agreement("", attachments=["PO_123.pdf"], automated=True) is None


@pytest.mark.parametrize(
    "name",
    [
        "devis signé.pdf",
        "Devis_2026-114_signe.pdf",
        "Contrat signé.PDF",
        "SOW_signed.pdf",
        "NDA - countersigned.pdf",
        "Bon de commande 2026-0456.pdf",
        "BDC_45012.pdf",
        "PO_4500012345.pdf",
        "PO4500012345.pdf",
        "Purchase Order 88213.pdf",
        "Devis_BPA.pdf",
    ],
)
def test_signed_document_attachments(name: str) -> None:
    found = detect_agreement("Ci-joint.", attachments=[name])
    assert found is not None
    assert found.phrase == f"attachment:{name}"


@pytest.mark.parametrize(
    "name",
    [
        "devis.pdf",
        "devis signé.docx",
        "Contrat_a_signer.pdf",
        "quote_to_sign.pdf",
        "contrat non signé.pdf",
        "unsigned_contract.pdf",
        "Draft contract signed.pdf",
        "Rapport.pdf",
        "repo_export.pdf",
    ],
)
def test_other_attachments_do_not_count(name: str) -> None:
    assert detect_agreement("Ci-joint.", attachments=[name]) is None


def test_attachment_with_a_request_does_not_count() -> None:
    body = "Voici le bon de commande, pour validation par votre service."
    assert detect_agreement(body, attachments=["Bon de commande.pdf"]) is None
    body = "Le devis signé n'est pas le bon, pouvez-vous le renvoyer ?"
    assert detect_agreement(body, attachments=["devis signé.pdf"]) is None


def test_text_phrase_wins_over_attachment() -> None:
    assert phrase_of("Je valide.", attachments=["devis signé.pdf"]) == "je valide"


def test_attachment_language_follows_the_text() -> None:
    found = detect_agreement("Please find the signed copy.", attachments=["x_signed.pdf"])
    assert found is not None
    assert found.language == "en"


# --- properties -----------------------------------------------------------------------------

_VOCABULARY = (
    "je valide nous ne pas approved agreed go ahead bon pour accord si if ? . , \n > "
    "le devis signé merci de valider cordialement -- De : On wrote: a écrit :"
)
_WORDS = st.sampled_from(_VOCABULARY.split(" "))


@settings(max_examples=150, deadline=None)
@given(st.lists(_WORDS, max_size=40), st.lists(_WORDS, max_size=40))
def test_quoted_history_never_changes_the_result(new: list[str], old: list[str]) -> None:
    body = " ".join(new)
    quoted = "\n".join("> " + line for line in " ".join(old).split("\n"))
    history = f"Le 16 nov. 2026 à 18:04, Claire <c@x.fr> a écrit :\n{quoted}"
    assert detect_agreement(f"{body}\n\n{history}") == detect_agreement(f"{body}\n")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_never_raises(body: str) -> None:
    detect_agreement(body, attachments=[body[:20] + ".pdf"])
    assert len(new_text(body)) <= len(body.replace("\r\n", "\n"))


# --- the labelled set -----------------------------------------------------------------------


def _labelled() -> list[dict[str, object]]:
    lines = LABELLED.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def test_labelled_set_shape() -> None:
    cases = _labelled()
    keys = {"id", "lang", "subject", "body", "attachments", "from_me", "automated", "label", "note"}
    assert all(set(c) == keys for c in cases)
    assert len({c["id"] for c in cases}) == len(cases) >= 200
    assert sum(bool(c["label"]) for c in cases) >= 0.4 * len(cases)
    hard = [c for c in cases if str(c["note"]).startswith("hard negative")]
    assert len(hard) >= 60
    assert {c["lang"] for c in cases} == {"fr", "en"}


def test_labelled_set_precision_and_recall() -> None:
    tp = fp = fn = 0
    for case in _labelled():
        found = detect_agreement(
            str(case["body"]),
            subject=str(case["subject"]),
            attachments=[str(a) for a in case["attachments"]],  # type: ignore[attr-defined]
            from_me=bool(case["from_me"]),
            automated=bool(case["automated"]),
        )
        tp += bool(found) and bool(case["label"])
        fp += bool(found) and not case["label"]
        fn += not found and bool(case["label"])
    assert tp / (tp + fp) >= 0.95
    assert tp / (tp + fn) >= 0.85
