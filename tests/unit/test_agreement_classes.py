"""Who commits to what: every false-flag class and every miss of issue 14, in fr and en."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.core.agreement_rules import NEEDLES, PHRASES, TERSE
from responsewatch.core.agreements import detect_agreement

HISTORY_FR = "\n\nLe 16 nov. 2026 à 18:04, Claire <claire@martin-conseil.fr> a écrit :\n> Devis ?\n"
HISTORY_EN = "\n\nOn Mon, Nov 16, 2026 at 6:04 PM Claire <claire@m.fr> wrote:\n> Quote?\n"

NOT_AGREEMENTS = {
    "request": [
        "Merci de nous renvoyer le contrat signé.",
        "Il nous faut votre bon pour accord avant vendredi.",
        "Please send the signed contract back.",
        "Could you sign and return the attached agreement",
        "We need your sign-off on the SOW.",
    ],
    "question": [
        "Le devis est-il validé ?",
        "C'est validé de votre côté ?",
        "Did you sign the contract?",
        "Can we go ahead?",
    ],
    "negation": [
        "Nous ne validons pas cette version.",
        "Pas d'accord sur le montant.",
        "We don't accept these terms.",
        "I can't sign off on this yet.",
    ],
    "conditional": [
        "Si le prix baisse, nous validerons.",
        "Je vais valider demain.",
        "Louise has no problem as long as approved by legal and credit.",
        "The deal must be approved by shareholders.",
        "We would sign if you remove clause 4.",
    ],
    "report": [
        "Leur devis a été validé par la mairie.",
        "Le budget de l'État a été approuvé par le Parlement.",
        "The merger was approved by the board yesterday.",
        "Their plan was approved by the city council.",
        "The board-approved budget was published.",
        "They have agreed to send the money.",
    ],
    "announcement": [
        "Le groupe X a signé un accord de fusion avec Y.",
        "Acme has signed a merger agreement with Globex.",
        "As you know, Enron has signed a merger agreement by which Dynegy will acquire Enron.",
    ],
    "idiom": [
        "Allez-y, transférez-lui mon mail.",
        "Go ahead and forward this to your team.",
        "Feel free to go ahead and call me.",
    ],
    "opinion": [
        "Je suis d'accord qu'il faudrait en discuter.",
        "I agree that we should discuss this.",
        "I agree. The market looks weak.",
        "Agree completely. In that context, it looks good.",
        "I agree with Paul's analysis.",
    ],
    "past-document": [
        "Ceux d'entre vous qui ont signé la charte l'an dernier n'ont rien à faire.",
        "Le contrat signé en 2019 expire en mars.",
        "Those of you who signed the release forms need not do anything.",
        "Per the agreement signed last year, payment is due in 30 days.",
    ],
    "abbreviation": [
        "BPA and WPTF will not be speaking.",
        "Yesterday we received a letter from BPA under which BPA terminated two agreements.",
        "I spoke with Corrine Surface at BPA and learned that these charges apply.",
    ],
    "deal-noun": [
        "Deal # 812532.1 is our sale to PGE on LLH.",
        "Deal Terms",
        "Deal moves has been completed and retranslated.",
    ],
    "meeting": [
        "OK pour mardi 14h.",
        "Agreed, let's meet on Thursday at 10.",
    ],
    "wrong-language": [
        "Le statut « approved » du ticket est automatique dans Jira.",
        "Le fichier s'appelle agreed_final.xlsx, je le regarde.",
        "The valide field is required.",
    ],
}

AGREEMENTS = {
    "no-remarks formula": [
        ("Pas de remarque de notre côté, c'est validé.", "fr"),
        ("Après relecture, nous n'avons pas de remarque : le livrable est validé.", "fr"),
        ("No further comments from our side, approved.", "en"),
        ("No remarks on our side, it's approved.", "en"),
    ],
    "passive": [
        ("Le devis est accepté.", "fr"),
        ("La proposition révisée est approuvée.", "fr"),
        ("Avenant n° 2 validé et signé de notre côté.", "fr"),
        ("Your proposal has been approved.", "en"),
        ("These agreements are acceptable.", "en"),
    ],
    "terse": [
        ("Validation OK.", "fr"),
        ("Validé !", "fr"),
        ("BPA", "fr"),
        ("Confirmed!", "en"),
        ("Agreed.", "en"),
        ("Deal!", "en"),
    ],
    "first person": [
        ("Je valide le devis.", "fr"),
        ("Nous acceptons votre proposition du 16 novembre.", "fr"),
        ("With this change, Christian and I approve of the definition of the product.", "en"),
        ("I am fine with the change.", "en"),
        ("We agree to the revised fee of €14,000.", "en"),
    ],
    "imperative to me": [
        ("Vous pouvez lancer la production.", "fr"),
        ("Allez-y, lancez la mission.", "fr"),
        ("Please proceed with phase 2.", "en"),
        ("Fine with me, go ahead and book it.", "en"),
    ],
    "whole reply": [
        ("I agree.\nPL", "en"),
        ("confirm", "en"),
        ("Looks fine to me.\n--John", "en"),
    ],
}


@pytest.mark.parametrize(
    ("kind", "body"), [(k, b) for k, bodies in NOT_AGREEMENTS.items() for b in bodies]
)
def test_not_an_agreement(kind: str, body: str) -> None:
    history = HISTORY_FR if kind in ("idiom",) and "Allez" in body else HISTORY_EN
    assert detect_agreement(body) is None, kind
    assert detect_agreement(body + history) is None, kind


@pytest.mark.parametrize(
    ("kind", "body", "language"),
    [(k, b, lang) for k, cases in AGREEMENTS.items() for b, lang in cases],
)
def test_agreement(kind: str, body: str, language: str) -> None:
    found = detect_agreement(body + (HISTORY_FR if language == "fr" else HISTORY_EN))
    assert found is not None, kind
    assert found.language == language
    assert found.rule.startswith(f"{language}."), found.rule
    # The excerpt is the sentence that matched, from the new text only.
    assert found.excerpt in body.replace("\n", " ")


def test_inline_answer_under_an_eudora_header() -> None:
    body = (
        "At 10:12 AM 11/16/2026 -0800, Claire Martin wrote:\n"
        ">Do you approve the revised quote?\n\nYes, approved.\n\n>Can we start Monday?\n\n"
        "Monday is fine.\n"
    )
    found = detect_agreement(body)
    assert found is not None
    assert (found.excerpt, found.rule) == ("Yes, approved.", "en.terse-approved")


def test_rule_names_the_table_row() -> None:
    found = detect_agreement("Bonjour,\n\nNous retenons votre proposition.\n\nCordialement,\nJean")
    assert found is not None
    assert (found.phrase, found.rule, found.excerpt) == (
        "retenu",
        "fr.retenu",
        "Nous retenons votre proposition.",
    )


@pytest.mark.parametrize(
    "body",
    [
        "<html><body><p>Hi Claire,</p><p>Approved, please proceed.</p></body></html>",
        '<div dir="ltr">C&#39;est valid&eacute; pour nous.</div><div><br></div>',
    ],
)
def test_html_bodies_are_reduced_to_text(body: str) -> None:
    found = detect_agreement(body)
    assert found is not None
    assert "<" not in found.excerpt and "&" not in found.excerpt


def test_html_quoted_history_is_not_read() -> None:
    body = (
        "<html><body><div>Let me check.</div><div class='gmail_quote'>On Mon, Claire wrote:"
        "<blockquote>Approved.</blockquote></div></body></html>"
    )
    assert detect_agreement(body) is None
    outlook = '<div>Je regarde.</div><hr><div id="divRplyFwdMsg">De : Jean</div><p>Je valide.</p>'
    assert detect_agreement(outlook) is None


@pytest.mark.parametrize(
    ("body", "sender"),
    [
        ("Your order #4471 has been approved and will ship soon.", "orders@shop.example"),
        ("Votre commande n°4471 a été validée.", "commandes@boutique.example"),
        ("Congratulations, your application is approved. Unsubscribe here.", "jane@x.com"),
        ("This email was sent because you agreed to opt in to promotions. Approved!", ""),
        ("Vous recevez ce message car vous êtes inscrit. C'est validé.", ""),
    ],
)
def test_bulk_mail_without_list_headers_is_skipped(body: str, sender: str) -> None:
    assert detect_agreement(body, sender=sender) is None


def test_an_ordinary_sender_is_not_bulk() -> None:
    found = detect_agreement("Votre commande est validée.", sender="jean.dupont@acme.fr")
    assert found is not None


def test_every_rule_has_needles_that_its_examples_contain() -> None:
    assert {p.rule for p in (*PHRASES, *TERSE)} == set(NEEDLES)
    assert len({p.rule for p in (*PHRASES, *TERSE)}) == len(PHRASES) + len(TERSE)


_APPROVAL_WORDS = st.sampled_from(
    [
        "je",
        "valide",
        "nous",
        "validons",
        "approved",
        "agreed",
        "go",
        "ahead",
        "bon",
        "pour",
        "accord",
        "bpa",
        "validé",
        "confirmed",
        "deal",
        "signed",
        "signé",
        "the",
        "board",
        "a",
        "de",
        "pas",
        "not",
        "if",
        "si",
        "?",
        ",",
        ".",
        ":",
        "!",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_APPROVAL_WORDS, max_size=30))
def test_needles_never_hide_a_match(words: list[str]) -> None:
    # The needle pre-filter is a speed-up only: without it the result must be the same.
    from responsewatch.core import agreements

    body = " ".join(words)
    with_filter = detect_agreement(body)
    saved = agreements._TRIGGER_WORDS
    phrases = [(p, p.needles) for p in (*PHRASES, *TERSE)]
    try:
        agreements._TRIGGER_WORDS = ("",)
        for phrase, _ in phrases:
            object.__setattr__(phrase, "needles", ("",))
        assert detect_agreement(body) == with_filter
    finally:
        agreements._TRIGGER_WORDS = saved
        for phrase, needles in phrases:
            object.__setattr__(phrase, "needles", needles)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600), st.text(max_size=40))
def test_hostile_input_never_raises(body: str, sender: str) -> None:
    found = detect_agreement(body, sender=sender, attachments=[body[:30] + ".pdf"])
    assert found is None or len(found.excerpt) <= 200


def test_html_answers_between_blockquotes_count_and_nesting_is_linear() -> None:
    body = (
        "<html><p>Hi Claire,</p><blockquote>Do you approve the quote?<blockquote>Older"
        "</blockquote></blockquote><p>Approved.</p><blockquote>Start on Monday?</blockquote>"
    )
    found = detect_agreement(body)
    assert found is not None
    assert (found.excerpt, found.rule) == ("Approved.", "en.terse-approved")
    # Thousands of unclosed blockquotes: one pass, nothing inside them is read.
    assert detect_agreement("<html><p>x</p>" + "<blockquote>Approved." * 5000) is None
