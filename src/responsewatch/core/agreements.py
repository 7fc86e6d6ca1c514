"""Approval / agreement detection in client messages (French and English).

Precision matters more than recall: an archived "agreement" that is not one is worse than
a missed one, because the archive is evidence. So a sentence counts only when its sender
commits to what I proposed or asked: first person ("je valide", "we accept"), an
imperative addressed to me ("vous pouvez lancer", "please proceed"), a passive on what I
sent ("votre proposition est acceptée") or a clause that is nothing but an approval
("Validé.", "Confirmed!"); and only without a suppressor (negation, question, condition or
future, request for approval, a third party's approval reported as news). Phrases of one
language never fire in text of the other. Only the *new* text is read (the shared quote
stripper of ``quoting``, then sign-off and disclaimer cuts); HTML is reduced to text
first; bulk mail is skipped. The tables live in ``agreement_rules``; each detection names
the rule that fired and quotes the matched sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from responsewatch.core import agreement_rules as rules
from responsewatch.core.agreement_rules import NEEDLES, PHRASES, TERSE, Phrase
from responsewatch.core.quoting import fold, html_to_text, looks_like_html, strip_quotes

__all__ = ["Detection", "detect_agreement", "new_text"]

_EXCERPT_MAX = 200
_BULK_SCAN = 8000


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected approval: the canonical phrase, where it was found, and its language."""

    phrase: str
    excerpt: str
    language: str
    rule: str = ""


_GREETING = re.compile(
    r"^(?:bonjour|bonsoir|re-?bonjour|hello|hi|hey|dear|cher|chere|chers|cheres|madame"
    r"|monsieur|salut|coucou|good (?:morning|afternoon|evening)|greetings)\b[^.!?]{0,40}[,!.]?$"
)
_SIGNOFF = re.compile(
    r"^(?:bien |tres |bien a vous et )?(?:cordialement|cdlt|cdt|salutations(?: distinguees)?"
    r"|sinceres salutations|meilleures salutations|bien a vous|bien a toi|belle journee"
    r"|bonne journee|bonne soiree|bonne fin de journee|bonne semaine|bon week-end|a bientot"
    r"|a tres vite|amicalement|regards|best regards|kind regards|warm regards|warmest regards"
    r"|best wishes|all the best|best|cheers|sincerely|yours sincerely|yours faithfully"
    r"|yours truly|respectfully|talk soon|speak soon|merci|merci beaucoup|merci encore"
    r"|merci d'avance|merci par avance|mille mercis|merci et bonne journee|thanks|thank you"
    r"|many thanks|thanks again|thanks in advance|thx)\b[\s,.!]*"
)
_DISCLAIMER_OPENER = re.compile(
    r"^(?:disclaimer|avertissement|avis de confidentialite|confidentialit|confidential"
    r"|this e-?mail|this message|ce (?:message|courriel|mail|e-mail)|the information"
    r"|les informations|p\.? ?s\.?|please consider|pensez a|avant d'imprimer|n'imprimez"
    r"|important|notice|legal)"
)
_DISCLAIMER_MARKER = re.compile(
    r"confidenti|intended (?:solely |only )?for|intended recipient|addressee|destinataire"
    r"|privileged|unauthori[sz]ed|non autorise|interdit|prohibited|virus|imprimer"
    r"|print this|environnement|environment|liability|responsabilite|legally binding"
    r"|juridiquement|ne constitue|does not constitute"
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;…])\s+")

_DOCUMENT_TOPIC = re.compile(
    r"sign|valid|approuv|approv|commande|order|accord|agree|devis|contrat|contract|\bpo\b"
    r"|quote|\bbdc\b"
)
_ATTACHMENT_SIGNED = re.compile(
    r"(?:^|[\W_])(?:signee?s?|signed|countersigned|contresignee?s?|bpa"
    r"|bon[\W_]*pour[\W_]*accord)(?:[\W_]|$)"
)
_ATTACHMENT_ORDER = re.compile(
    r"(?:^|[\W_])(?:bon[\W_]*de[\W_]*commande|bdc|po|purchase[\W_]*order)(?:[\W_]|\d|$)"
)
_ATTACHMENT_NOT_SIGNED = re.compile(
    r"(?:^|[\W_])(?:non|not|a|to|for|pour|un)[\W_]+(?:signee?s?|signer|sign|signed|signature)"
    r"|unsigned|draft|brouillon|template|modele|specimen|exemple|sample"
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "we",
        "you",
        "is",
        "are",
        "please",
        "find",
        "attached",
        "hi",
        "hello",
        "thanks",
        "our",
        "with",
        "to",
        "of",
        "for",
        "it",
        "this",
        "that",
        "have",
        "has",
        "be",
        "will",
        "not",
        "from",
        "your",
        "my",
        "all",
        "any",
        "can",
        "was",
        "were",
        "what",
        "if",
    ]
)
_FRENCH_WORDS = frozenset(
    [
        "le",
        "la",
        "les",
        "de",
        "des",
        "du",
        "et",
        "je",
        "nous",
        "vous",
        "est",
        "pour",
        "ci",
        "bonjour",
        "merci",
        "une",
        "un",
        "pas",
        "sur",
        "avec",
        "sont",
        "c'est",
        "qui",
        "que",
        "au",
        "aux",
        "ce",
        "cette",
        "notre",
        "votre",
        "mais",
        "ou",
        "dans",
        "par",
        "tres",
        "bien",
    ]
)
_CLAUSE_SPLIT = re.compile(r"\s*(?:[,;:]|\s-+)\s*")
# A sentence without any rule's needle approves nothing: most sentences stop there.
_TRIGGER_WORDS = tuple(sorted({needle for needles in NEEDLES.values() for needle in needles}))
_INLINE_CHECKED = frozenset({"en.terse-agreed", "en.terse-confirmed"})
# Initials or a name left under a reply ("PL", "--John", "Jean Dupont").
_NAME_ONLY = re.compile(r"^(?:-{1,2}\s*)?[A-Z][\w.'-]{0,20}(?: [A-Z][\w.'-]{0,20}){0,2}$")
_WHOLE_AGREE = re.compile(
    r"^(?:(?:ok|yes|fine)[ ,]+)?(?:(?:i |we )?(?:fully |totally |completely |both )?agreed?"
    r"|confirm(?:ed)?|please do|go for it|(?:it |this |that |all |everything )?looks? (?:fine"
    r"|good|ok|okay|great)"
    r"(?: to (?:me|us))?)[ !.]*$"
)


def _content_index(lines: Sequence[str]) -> int | None:
    """Index of the first line that is real content (not blank, not a greeting)."""
    for idx, line in enumerate(lines):
        folded = fold(line).strip()
        if folded and not _GREETING.match(folded):
            return idx
    return None


def _is_signoff(raw: str) -> bool:
    stripped = raw.strip()
    match = _SIGNOFF.match(fold(stripped))
    if match is None:
        return False
    # "Cordialement, Jean Dupont" is a sign-off; "Bonne journée, je valide" is not.
    rest = stripped[match.end() :].split()
    return len(rest) <= 3 and all(word[:1].isupper() for word in rest)


def _cut_signoff(lines: list[str]) -> list[str]:
    start = _content_index(lines)
    if start is None:
        return lines
    for idx in range(start + 1, len(lines)):
        if _is_signoff(lines[idx]):
            return lines[:idx]
    return lines


def _cut_disclaimer(lines: list[str]) -> list[str]:
    start = _content_index(lines)
    if start is None:
        return lines
    idx = start + 1
    while idx < len(lines):
        if lines[idx].strip() and not lines[idx - 1].strip():
            end = idx
            while end < len(lines) and lines[end].strip():
                end += 1
            para = fold(" ".join(lines[idx:end]))
            # A marker alone may be prose ("destinataire"); with an opener or at length it
            # is the legal boilerplate that says "approved" without approving anything.
            long_or_opened = _DISCLAIMER_OPENER.match(para) or len(para.split()) >= 15
            if long_or_opened and _DISCLAIMER_MARKER.search(para):
                return lines[:idx]
            idx = end
        idx += 1
    return lines


def new_text(body: str) -> str:
    """The part of ``body`` its sender wrote: no quotes, reply headers, signature, disclaimer."""
    kept = strip_quotes(body).split("\n")
    return "\n".join(_cut_disclaimer(_cut_signoff(kept))).strip()


# --- sentences --------------------------------------------------------------------------


def _sentences(text: str) -> Iterator[str]:
    for para in re.split(r"\n\s*\n", text):
        units: list[str] = []
        for raw in para.split("\n"):
            line = " ".join(raw.split())
            if not line:
                continue
            # A hard-wrapped line continues when the next one starts in lower case.
            if units and not units[-1].endswith((".", "!", "?", ";", ":")) and line[0].islower():
                units[-1] = f"{units[-1]} {line}"
            else:
                units.append(line)
        for unit in units:
            for sentence in _SENTENCE_SPLIT.split(unit):
                if sentence.strip():
                    yield sentence.strip()


def _excerpt(sentence: str) -> str:
    if len(sentence) <= _EXCERPT_MAX:
        return sentence
    return sentence[: _EXCERPT_MAX - 1].rstrip() + "…"


# --- suppressors ------------------------------------------------------------------------


def _neutralise(folded: str) -> str:
    """Replace idioms whose negation words do not negate ("pas de souci", "no worries")."""
    return rules.NEUTRAL_IDIOMS.sub(lambda m: "x" * len(m.group(0)), folded)


def _sentence_blocked(folded: str) -> str | None:
    """Why a whole (folded) sentence cannot hold an approval, or None."""
    if "?" in folded or rules.QUESTION.search(folded):
        return "question"
    if rules.REQUEST.search(folded):
        return "request"
    if rules.REPORTED_SPEECH.search(folded):
        return "reported"
    cleaned = _neutralise(rules.POLITE_SIL.sub(" ", folded))
    if rules.CONDITIONAL.search(cleaned):
        return "conditional"
    return None


def _negated(neutral: str, start: int, end: int, has_subject: bool) -> bool:
    before = neutral[:start]
    contrast = list(rules.CONTRAST.finditer(before))
    if contrast:
        before = before[contrast[-1].end() :]
    if rules.IMMEDIATE_NEGATION.search(before):
        return True
    # A negation before a colon or semicolon is in another clause ("nous n'avons pas de
    # remarque : le livrable est validé"); "je valide" starts its own clause even after
    # a comma.
    before = re.split(r"[,;:]" if has_subject else r"[;:]", before)[-1]
    window = " ".join(before.split()[-6:])
    if rules.NEGATION.search(window):
        return True
    after = " ".join(neutral[end:].split()[:2])
    return bool(rules.NEGATION_AFTER.match(after))


def _about_scheduling(folded: str, end: int) -> bool:
    after = " ".join(folded[end:].split()[:5])
    return bool(rules.SCHEDULE_AFTER.search(after))


def _not_theirs(phrase: Phrase, before: str, after: str) -> bool:
    """A signed document the client thanks me for, or received from me, is not their commitment."""
    if phrase.canonical not in ("signé", "signed"):
        return False
    return bool(rules.RECEIVED_BEFORE.search(before) or rules.BY_ME_AFTER.match(after))


def _reported(phrase: Phrase, before: str, after: str) -> bool:
    """A passive approval by someone else ("their plan was approved by the council")."""
    if not phrase.passive:
        return False
    return bool(rules.THIRD_PARTY_BEFORE.search(before) or rules.GOVERNMENT_AFTER.match(after))


def _speaks(phrase: Phrase, language: str) -> bool:
    """Words of one language never fire in text of the other; "" is too short to tell."""
    if language:
        return phrase.language == language
    return not phrase.strict_language


def _match_sentence(sentence: str, language: str) -> Detection | None:
    folded = " ".join(fold(sentence).split())
    padded = f" {folded} "
    if not any(map(padded.__contains__, _TRIGGER_WORDS)):
        return None
    found = _phrase_in(sentence, folded, padded, language)
    # The suppressors cost more than the phrases, so they only run on a candidate.
    if found is None or _sentence_blocked(folded) or rules.SCHEDULE_NOUN.search(folded):
        return None  # approving a meeting slot is not approving work
    return found


def _phrase_in(sentence: str, folded: str, padded: str, language: str) -> Detection | None:
    neutral = _neutralise(folded)
    for phrase in PHRASES:
        if not _speaks(phrase, language) or not any(map(padded.__contains__, phrase.needles)):
            continue
        for match in phrase.pattern.finditer(neutral):
            before, after = neutral[: match.start()], neutral[match.end() :]
            if _negated(neutral, match.start(), match.end(), phrase.has_subject):
                continue
            if phrase.weak and _about_scheduling(neutral, match.end()):
                continue
            if _not_theirs(phrase, before, after) or _reported(phrase, before, after):
                continue
            return _detection(phrase, sentence)
    for clause in _CLAUSE_SPLIT.split(neutral):
        for phrase in TERSE:
            if _speaks(phrase, language) and phrase.pattern.match(clause):
                return _detection(phrase, sentence)
    return None


def _detection(phrase: Phrase, sentence: str) -> Detection:
    return Detection(phrase.canonical, _excerpt(sentence), phrase.language, phrase.rule)


# --- attachments ------------------------------------------------------------------------


def _signed_attachment(name: str) -> bool:
    folded = fold(name).strip()
    if not folded.endswith(".pdf") or _ATTACHMENT_NOT_SIGNED.search(folded):
        return False
    return bool(_ATTACHMENT_SIGNED.search(folded) or _ATTACHMENT_ORDER.search(folded))


def _attachments_blocked(text: str) -> bool:
    """True when the new text talks about the document in a non-committal way."""
    for sentence in _sentences(text):
        folded = " ".join(fold(sentence).split())
        if not _DOCUMENT_TOPIC.search(folded):
            continue
        neutral = _neutralise(folded)
        if _sentence_blocked(folded) or rules.NEGATION.search(neutral):
            return True
    return False


def _language_of(text: str) -> str:
    """ "fr", "en", or "" when the text has no more evidence for one than for the other."""
    words = _WORD.findall(fold(text))
    english = sum(map(_ENGLISH_WORDS.__contains__, words))
    french = sum(map(_FRENCH_WORDS.__contains__, words))
    if english == french:
        return ""
    return "en" if english > french else "fr"


def _quoted_above(body: str, sentence: str) -> str:
    """The quoted paragraph an inline answer sits under ("" for a top-posted answer)."""
    lines = body.replace("\r\n", "\n").split("\n")
    head = " ".join(sentence.split()[:3])
    for idx, line in enumerate(lines):
        if line.lstrip().startswith(">") or not " ".join(line.split()).startswith(head):
            continue
        above: list[str] = []
        for prev in reversed(lines[max(0, idx - 12) : idx]):
            quoted = prev.lstrip().startswith(">")
            text = prev.lstrip().lstrip("> ").strip()
            if quoted and text:
                above.append(text)
            elif above:
                break  # the quoted paragraph nearest to the answer is what it answers
            elif text and not _GREETING.match(fold(text)):
                return ""  # text of the sender's own above: not an inline answer
        return fold(" ".join(reversed(above)))
    return ""


def _agrees_to_a_proposal(body: str, sentences: Sequence[str], index: int) -> bool:
    """ "Agreed." under a quoted proposal accepts it; under a quoted opinion it is one.

    In review threads "Agreed." answers statements ("this would confuse the reader") as
    often as proposals ("how about …?"). It counts when the quoted text above proposes
    or asks, when the answer commits ("Agreed, I'll fix this.", "Patch applied."), or
    when it is not an inline answer at all (a reply to the whole message).
    """
    quoted = _quoted_above(body, sentences[index])
    if not quoted or rules.PROPOSAL.search(quoted):
        return True
    following = " ".join(sentences[index : index + 2])
    return bool(rules.COMMITMENT.search(fold(following)))


def _bulk(body: str, sender: str) -> bool:
    if rules.BULK_SENDER.match(sender.partition("@")[0].lower()):
        return True
    unquoted = "\n".join(x for x in body[:_BULK_SCAN].splitlines() if not x.startswith(">"))
    return bool(rules.BULK_MARKER.search(fold(unquoted)))


def detect_agreement(
    body: str,
    *,
    subject: str = "",
    attachments: Sequence[str] = (),
    from_me: bool = False,
    automated: bool = False,
    sender: str = "",
) -> Detection | None:
    """The first approval in the new text of a client message, else a signed attachment.

    ``subject`` is accepted but never matched: approval words only in the Subject do not
    count (a "Validation devis" subject is usually a request). Mine, automated and bulk
    mail (``sender`` a system address, or a mass-mail footer) never count, even from a
    client's domain.
    """
    del subject
    if from_me or automated or _bulk(body, sender):
        return None
    text = new_text(html_to_text(body) if looks_like_html(body) else body)
    language = _language_of(text)
    sentences = list(_sentences(text))
    said = [x for x in sentences if not _NAME_ONLY.match(x)]
    # A reply that says nothing but "I agree." accepts what I proposed; with more words,
    # "I agree" is usually an opinion ("I agree. The market looks weak.").
    whole = " ".join(fold(said[0]).split()) if len(said) == 1 and language != "fr" else ""
    if whole and _WHOLE_AGREE.match(whole):
        return Detection("agreed", _excerpt(said[0]), "en", "en.whole-reply-agree")
    for index, sentence in enumerate(sentences):
        found = _match_sentence(sentence, language)
        if found is None:
            continue
        if found.rule in _INLINE_CHECKED and not _agrees_to_a_proposal(body, sentences, index):
            continue
        return found
    if not attachments or _attachments_blocked(text):
        return None
    for name in attachments:
        if _signed_attachment(name):
            first = sentences[0] if sentences else name
            return Detection(
                f"attachment:{name}",
                _excerpt(first),
                _language_of(text or name) or "fr",
                "attachment.signed-pdf",
            )
    return None
