"""Inline "Agreed." decided by the quoted line it answers; quoted speech never fires."""

from __future__ import annotations

import pytest

from responsewatch.core.agreements import detect_agreement

HEADER = "On Mon, 3 May 2021, Alex wrote:\n"


@pytest.mark.parametrize(
    "quoted",
    [
        "Shall we move the release to Friday?",
        "How about dropping the second paragraph.",
        "I propose we ship version 2 as it is.",
    ],
)
def test_inline_agreed_under_my_question_or_proposal_is_an_agreement(quoted: str) -> None:
    found = detect_agreement(f"{HEADER}> {quoted}\n\nAgreed.\n\nPat\n")
    assert found is not None
    assert found.rule == "en.terse-agreed"


@pytest.mark.parametrize(
    "quoted",
    [
        "This paragraph would confuse the reader.",
        "The old wording was clearer in my view.",
    ],
)
def test_inline_agreed_under_a_statement_is_an_opinion(quoted: str) -> None:
    assert detect_agreement(f"{HEADER}> {quoted}\n\nAgreed.\n\nPat\n") is None
    # Committing to act on the statement makes it an agreement again.
    body = f"{HEADER}> {quoted}\n\nAgreed, I will reword it.\n\nPat\n"
    assert detect_agreement(body) is not None


@pytest.mark.parametrize(
    ("speech", "plain"),
    [
        (
            '"At no point do I approve of throwing at someone\'s head," said Fryman.',
            "I approve of the revised budget.",
        ),
        ('"I approve the plan," the minister told reporters.', "I approve the plan."),
        ("« Je valide ce devis », a déclaré le maire.", "Je valide ce devis."),
        (
            "« Nous acceptons votre proposition », explique la directrice.",
            "Nous acceptons votre proposition.",
        ),
    ],
)
def test_quoted_speech_in_a_forwarded_article_never_fires(speech: str, plain: str) -> None:
    article = f'Fryman defended his pitcher.\n{speech} "But that pitch did not surprise anyone."\n'
    assert detect_agreement(article) is None
    # The same words as the sender's own sentence do fire: the quotes are what block it.
    assert detect_agreement(f"Hello,\n{plain}\nBest,\nPat\n") is not None
