"""Thanks-only against an independent reference: DESIGN.md's rule read plainly, sharing
nothing with the code (no regex, no helper from ``core``).

DESIGN.md "Who must answer whom": after removing quoted text (lines starting with ``>``,
and everything from a reply header such as ``Le … a écrit :``, ``On … wrote:``,
``-----Original Message-----``, a ``De :``/``From:`` header block) and the signature (after
a line ``-- ``), the message has at most 12 words, no ``?``, and contains an
acknowledgement (merci, thanks, thank you, ok, d'accord, parfait, bien reçu, noted, reçu,
super, top, great).

The generated mail uses only lines on which any faithful reading agrees (a reply header is
a whole line; an Outlook block is a whole block), so the property tests the rule, not one
way of writing a quote stripper.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.core.classify import is_thanks_only

ACKS = (
    "merci",
    "thanks",
    "thank you",
    "ok",
    "d'accord",
    "parfait",
    "bien reçu",
    "noted",
    "reçu",
    "super",
    "top",
    "great",
)
LETTERS_OR_DIGITS = set("abcdefghijklmnopqrstuvwxyzàâäçéèêëîïôöùûüÿœ0123456789")


def _starts_reply_header(line: str) -> bool:
    low = line.strip().lower()
    if low.startswith("le ") and low.endswith("a écrit :"):
        return True
    if low.startswith("on ") and low.endswith("wrote:"):
        return True
    if low == "-----original message-----":
        return True
    return low.startswith("from:") or low.startswith("de :") or low.startswith("de:")


def _contains_phrase(words: list[str], phrase: str) -> bool:
    wanted = phrase.split(" ")
    n = len(wanted)
    return any(words[i : i + n] == wanted for i in range(len(words) - n + 1))


def reference_thanks_only(text: str) -> bool:
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.rstrip("\r") == "-- ":
            break  # the signature starts
        if line.startswith(">"):
            continue  # a quoted line
        if _starts_reply_header(line):
            break  # the quoted message starts
        kept.append(line)
    written = "\n".join(kept)
    if "?" in written:
        return False
    tokens = written.lower().split()
    words = [t for t in tokens if any(ch in LETTERS_OR_DIGITS for ch in t)]
    if not words or len(words) > 12:
        return False
    # An acknowledgement is a whole word (or phrase) once punctuation around it is dropped.
    bare = [w.strip('.,;:!…()"«»') for w in words]
    bare = [w.replace("’", "'") for w in bare]
    return any(_contains_phrase(bare, ack) for ack in ACKS)


# Whole lines, each read the same way by every faithful reading of the rule.
NEW_LINES = [
    "Merci",
    "merci !",
    "Thanks.",
    "Thank you",
    "OK",
    "D'accord, parfait.",
    "D’accord",
    "Bien reçu",
    "Noted",
    "Super",
    "top",
    "Great!",
    "Bonjour Claire,",
    "Voici le devis signé.",
    "Pouvez-vous me rappeler ?",
    "Quand ?",
    "mot mot mot",
    "un deux trois quatre cinq",
    "Cordialement,",
    "Jean",
    "De rien",
    "the laptop stopped",  # "top" inside a word is not "top"
    "bookkeeping",
    "thankful",
    "",
    "   ",
]
QUOTED = ["> merci", "> Avez-vous lu ?", "> un deux trois quatre cinq six sept", ">"]
HEADERS = [
    "Le lun. 3 mai 2026 à 10:00, Claire Martin <c@m.fr> a écrit :",
    "On Mon, May 3, 2026 at 10:00 AM Claire <c@m.fr> wrote:",
    "-----Original Message-----",
    "From: Claire Martin\nSent: Monday, May 3, 2026 10:00\nTo: Jean\nSubject: Re: devis",
    "De : Claire Martin\nEnvoyé : lundi 3 mai 2026 10:00\nÀ : Jean\nObjet : devis",
]
SIGNATURE = "-- "


@st.composite
def mails(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.sampled_from(NEW_LINES + QUOTED), max_size=16))
    if draw(st.booleans()):
        lines.append(SIGNATURE)
        lines += draw(st.lists(st.sampled_from(NEW_LINES), max_size=4))
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(HEADERS)))
        lines += draw(st.lists(st.sampled_from(NEW_LINES + QUOTED), max_size=6))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines)


@settings(max_examples=200, deadline=None)
@given(mails())
def test_thanks_only_agrees_with_a_plain_reading_of_the_rule(text: str) -> None:
    assert is_thanks_only(text) == reference_thanks_only(text)


def test_the_reference_reads_the_rule() -> None:
    # The reference itself, on the cases DESIGN.md spells out.
    assert reference_thanks_only("Merci !")
    assert reference_thanks_only("Merci\n> Avez-vous lu ?")
    assert reference_thanks_only("Merci\n-- \nJean ? Questions ?")
    assert reference_thanks_only("Merci\nOn Mon, May 3 Jo wrote:\nQuand ?")
    assert not reference_thanks_only("Merci, quand ?")
    assert not reference_thanks_only("merci " + "mot " * 12)
    assert reference_thanks_only("merci " + "mot " * 11)
    assert not reference_thanks_only("the laptop stopped")
    assert not reference_thanks_only("> merci")
