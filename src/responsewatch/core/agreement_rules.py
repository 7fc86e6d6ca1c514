"""The tables of :mod:`responsewatch.core.agreements`: approval phrases and suppressors.

Every pattern is written against ``quoting.fold()``ed text (lower case, no accents, plain
quotes). A phrase row names the rule that fired (it is recorded in the archive entry), the
canonical phrase, its language and flags:

- ``s``: the phrase opens its own clause ("je valide", "we accept"), so a negation before
  the last comma belongs to another clause;
- ``w``: weak, also said of meetings and dates ("d'accord pour mardi"): checked for those;
- ``p``: a passive or third-person form ("le devis est validé"): a third party's
  possessive just before it ("their plan was approved") makes it a report;
- ``x``: strictly its language: never fires in text that is not clearly in that language
  (an abbreviation such as "BPA" reads differently in English mail).

Who commits: first person (je/nous/on, I/we), an imperative addressed to me ("lancez",
"please proceed"), a passive on what I sent ("votre proposition est acceptée"), or a terse
clause that is nothing but an approval ("Validé.", "Confirmed!").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BULK_MARKER",
    "BULK_SENDER",
    "BY_ME_AFTER",
    "COMMITMENT",
    "CONDITIONAL",
    "CONTRAST",
    "DOC_EN",
    "DOC_FR",
    "GOVERNMENT_AFTER",
    "IMMEDIATE_NEGATION",
    "NEEDLES",
    "NEGATION",
    "NEGATION_AFTER",
    "NEUTRAL_IDIOMS",
    "PHRASES",
    "POLITE_SIL",
    "PROPOSAL",
    "QUESTION",
    "RECEIVED_BEFORE",
    "REPORTED_SPEECH",
    "REQUEST",
    "SCHEDULE_AFTER",
    "SCHEDULE_NOUN",
    "TERSE",
    "THIRD_PARTY_BEFORE",
    "Phrase",
]

# What a consultant proposes: documents, prices, phases (fr and en).
DOC_FR = (
    r"(?:devis|proposition|propale|offre|budget|planning|commande|maquettes?|bat|contrat"
    r"|avenant|chiffrage|estimation|livrables?|version|cahier des charges|specifications?"
    r"|tarifs?|montant|facture|conditions|bon de commande|bdc|lettre de mission|convention"
    r"|perimetre|cadrage|note de cadrage|recette|plan d'action|scenario|option|formule"
    r"|mise en production|mep|prestation|mission|phase \d|v\d|modifications?|changements?"
    r"|document|nda|accord de confidentialite|pv)"
)
DOC_EN = (
    r"(?:quote|quotation|proposal|offer|estimate|budget|plan|sow|statement of work|scope"
    r"|contract|agreement|terms|pricing|price|rates?|fees?|invoice|order|purchase order|po"
    r"|design|mock-?ups?|specs?|specifications?|deliverables?|report|draft|version|changes?"
    r"|change request|timeline|phase \d|milestone|amendment|numbers|nda|document|copy"
    r"|article|definition|approach|revisions?|figures)"
)
_ANY = r"[\w'-]+"


@dataclass(frozen=True, slots=True)
class Phrase:
    rule: str
    canonical: str
    language: str
    pattern: re.Pattern[str]
    has_subject: bool
    weak: bool
    passive: bool
    strict_language: bool
    needles: tuple[str, ...]  # one of them is in " sentence " whenever the pattern matches


def _expand(rx: str) -> str:
    return rx.replace("{DOC}", DOC_FR).replace("{DOC_EN}", DOC_EN).replace("{ANY}", _ANY)


def _parse(table: str) -> tuple[Phrase, ...]:
    rows: list[list[str]] = []
    for line in table.strip("\n").splitlines():
        if line.startswith("    "):
            # The 4-space indent is layout; a fifth space is a space of the regex.
            rows[-1][4] += line[4:].rstrip("\n")
        else:
            rows.append([part.strip() for part in line.split("::", 4)])
    return tuple(
        Phrase(
            rule,
            name,
            lang,
            re.compile(_expand(rx)),
            "s" in flags,
            "w" in flags,
            "p" in flags,
            "x" in flags,
            NEEDLES[rule],
        )
        for rule, name, lang, flags, rx in rows
    )


_VALID = ("valid", "approu", "accept", "confirm")
_SIGN = ("sign",)
_PO = (" po ", " po.", " po,", " po;", " po:", " po#", " po!", " po)", "purchase order")
# Substrings of the folded sentence (padded with spaces) without which a rule cannot match:
# a cheap test that spares most sentences the regexes (and the suppressors after them).
NEEDLES: dict[str, tuple[str, ...]] = {
    "fr.bon-pour-accord": ("bon pour accord",),
    "fr.bpa": ("bpa",),
    "fr.je-valide": ("valid",),
    "fr.nous-validons": ("valid",),
    "fr.c-est-valide": _VALID,
    "fr.valide-chez-nous": ("valid",),
    "fr.validation-ok": (" ok", "donnee", "accordee", "confirmee"),
    "fr.doc-valide": _VALID,
    "fr.j-approuve": ("approu",),
    "fr.direction-a-valide": (*_VALID, *_SIGN),
    "fr.nous-acceptons": ("accept",),
    "fr.j-accepte": ("accept",),
    "fr.ok-pour-doc": (
        "ok pour",
        "oui pour",
        "bon pour",
        "d'accord pour",
        "ok sur",
        "oui sur",
        "bon sur",
        "d'accord sur",
    ),
    "fr.notre-accord": ("accord",),
    "fr.vous-pouvez-lancer": ("pouvez", "peux"),
    "fr.lancez": ("lancez", "foncez", "enclenchez", "demarrez", "allez"),
    "fr.feu-vert": ("feu vert", " go "),
    "fr.retenu": ("reten", " suite"),
    "fr.signe": _SIGN,
    "fr.doc-signe": _SIGN,
    "fr.bon-de-commande": ("commande", "bdc", "command"),
    "fr.je-confirme": ("confirm",),
    "en.first-person-approve": ("approv",),
    "en.our-side-approved": ("approved", "signed off", "accepted"),
    "en.it-is-approved": ("approved", "accepted", "agreed", "confirmed", "signed off"),
    "en.doc-approved": ("approved", "accepted", "agreed"),
    "en.doc-acceptable": ("fine", "acceptable", " ok", "okay", "good to go", "agreed"),
    "en.fine-with-doc": ("fine with", "ok with", "okay with", "happy with", "good with"),
    "en.take-up-offer": (" up on ",),
    "en.approval-ok": ("approval ", "sign-off ", "signoff "),
    "en.our-approval": (
        "approval",
        "sign-off",
        "signoff",
        "acceptance",
        "go-ahead",
        "go ahead",
        "agreement",
        "green light",
        "blessing",
        " ok",
        "okay",
    ),
    "en.we-accept": ("accept",),
    "en.doc-accepted": ("accepted",),
    "en.we-confirm": ("confirm ",),
    "en.please-proceed": ("proceed",),
    "en.lets-proceed": ("let's go", "let's proceed", "let's do", "let's move", "let's get"),
    "en.go-ahead": ("go ahead", "go-ahead"),
    "en.happy-to-proceed": (
        "proceed",
        "go ahead",
        "move forward",
        "sign",
        "confirm",
        "accept",
        "approve",
    ),
    "en.good-to-go": ("good to go",),
    "en.green-light": ("green light",),
    "en.signed": (*_SIGN, "executed"),
    "en.doc-signed": _SIGN,
    "en.purchase-order": _PO,
    "en.its-a-deal": (" a deal",),
    "en.agree-to": ("agree",),
    "fr.c-est-ok-pour-nous": (
        "ok pour",
        "ok de",
        "bon pour",
        "bon de",
        "d'accord pour",
        "d'accord de",
        "valide pour",
        "valide de",
    ),
    "fr.ca-nous-va": ("nous va", "me va", "convient"),
    "fr.d-accord": ("d'accord",),
    "fr.accord-pour": ("accord ",),
    "fr.go-pour": (" go ", "on y va", "c'est parti", "on lance", "on part "),
    "fr.terse-valide": _VALID,
    "fr.terse-bpa": ("bpa", "bon pour accord", "validation ok", "accord ok"),
    "fr.terse-accord": ("accord",),
    "en.terse-approved": (
        "approv",
        "accepted",
        "confirmed",
        "agreed",
        "signed off",
        "sign-off",
        "signoff",
        "deal",
    ),
    "en.terse-go-ahead": ("go ahead",),
    "en.terse-agreed": ("agreed",),
    "en.terse-confirmed": ("confirmed",),
    "en.terse-deal": ("deal",),
}

# rule :: canonical :: language :: flags :: regex; an indented line continues the regex.
# First match wins: specific phrases first, weak ones (also said of meetings) last.
PHRASES = _parse(
    r"""
fr.bon-pour-accord :: bon pour accord :: fr :: - :: \bbon pour accord\b
fr.bpa :: bon pour accord :: fr :: x :: (?<![\w.@/-])bpa(?![\w.@/-])
fr.je-valide :: je valide :: fr :: s :: \bje (?:vous |te |le |la |les )?valide\b
    |\bj'ai (?:bien )?valide\b|\bje viens de valider\b
fr.nous-validons :: nous validons :: fr :: s :: \bnous (?:vous |le |la |les |l')?validons\b
    |\bon (?:le |la |les |l')?valide\b|\b(?:nous avons|on a) (?:bien )?valide\b
fr.c-est-valide :: c'est validé :: fr :: s ::
    \bc'est (?:tout |bien |donc |maintenant |desormais |officiellement )?validee?s?\b
    |\bc'est (?:accepte|approuve|confirme)e?s?\b
fr.valide-chez-nous :: validé de notre côté :: fr :: - :: \bvalidee?s? (?:de notre cote|de mon cote
    |pour nous|pour moi|cote client|chez nous|par (?:notre|ma) direction|par (?:notre|mon)
     (?:comite|codir|comex|dg|directeur|president))\b
fr.validation-ok :: validé :: fr :: - :: \b(?:validation|approbation|accord) (?:ok|donnee|accordee
    |confirmee)\b|\bok (?:pour )?(?:validation|accord)\b
fr.doc-valide :: validé :: fr :: p :: \b{DOC}s? (?:[\w°]+ ){0,2}(?:(?:est|sont|a|ont)(?: bien| donc
    | desormais| definitivement)?(?: ete)? )?(?:validee?s?|approuvee?s?|acceptee?s?)\b
fr.j-approuve :: j'approuve :: fr :: s :: \bj'approuve\b|\bnous approuvons\b
    |\b(?:j'ai|nous avons) approuve\b
fr.direction-a-valide :: validé :: fr :: - :: \b(?:notre|nos|mon|ma|mes|la|le) (?:direction|comite
    |codir|comex|dg|directeur|directrice|president|presidente|daf|responsable|service|equipe
    |juridique|hierarchie)(?: \w+){0,2} (?:a|ont) (?:bien |formellement |officiellement )?
    (?:validee?|approuvee?|acceptee?|(?:contre)?signee?)\b
fr.nous-acceptons :: nous acceptons :: fr :: s :: \bnous (?:l'|les |vous )?acceptons\b
    |\bon accepte\b|\bnous avons accepte\b
fr.j-accepte :: j'accepte :: fr :: s :: \bj'accepte\b|\bj'ai accepte\b
fr.ok-pour-doc :: ok pour le devis :: fr :: - :: \b(?:ok|oui|bon|d'accord) (?:pour|sur)
     (?:(?:le|la|les|ce|cet|cette|ces|votre|vos|notre|nos) |l')?(?:(?:nouvel(?:le)?|nouveau
    |dernier|derniere|revisee?) )?{DOC}s?\b|\bok pour (?:le )?(?:lancement|demarrage|lancer
    |demarrer|commencer|commander|proceder|passer commande|facturer)\b
fr.notre-accord :: notre accord :: fr :: - :: \b(?:donne|donnons|confirme|confirmons|avez|as
    |voici)(?: \w+){0,3} (?:notre|mon) (?:plein |entier |total )?accord\b|\b(?:notre
    |mon) accord (?:pour|sur)\b|\baccord de (?:notre|ma) part\b
fr.vous-pouvez-lancer :: vous pouvez lancer :: fr :: - :: \b(?:vous pouvez|tu peux)(?: donc
    | des a present| maintenant| des maintenant| bien| tout a fait)? (?:y aller|lancer|demarrer
    |commencer|proceder|engager|commander|passer (?:la )?commande|aller de l'avant|avancer
    |mettre en production|facturer|deployer|enclencher)\b
fr.lancez :: lancez :: fr :: - :: \b(?:lancez|foncez|enclenchez|demarrez)\b
    |\ballez[- ]y\b(?!,? (?!lancez|demarrez|commencez|foncez|commandez|procedez|engagez)\w+ez\b)
fr.feu-vert :: feu vert :: fr :: - :: \bfeu vert\b|\b(?:avez|as|donne|donnons) (?:le|notre|mon) go\b
fr.retenu :: retenu :: fr :: p :: \bnous (?:avons )?reten(?:ons|u)\b|\b(?:proposition|offre
    |candidature|devis|propale)s? (?:a ete |est |ont ete |sont )?retenue?s?\b
    |\b(?:nous donnons|je donne) suite\b
fr.signe :: signé :: fr :: - :: \b(?:j'ai|nous avons|on a|je viens de|nous venons de)(?: bien)?
     (?:contre)?signe\b|\bsignee?s? et (?:tamponnee?s?|datee?s?|paraphee?s?|renvoyee?s?
    |retournee?s?|cachetee?s?)\b|\b(?:je signe|nous signons)\b
    |\b(?:ci-jointe?s?|voici|vous trouverez|en piece jointe|en pj|je vous (?:envoie|adresse
    |transmets|retourne|renvoie)|nous vous (?:envoyons|adressons|transmettons|retournons
    |renvoyons))(?: {ANY}){0,4} (?:contre)?signee?s?\b|\b{DOC}s? (?:contre)?signee?s? (?:ci-jointe?
    |en piece jointe|en pj)\b
fr.doc-signe :: signé :: fr :: p :: \b{DOC}s? (?:\w+ )?(?:est|sont|a ete|ont ete)(?: bien
    | desormais)? (?:contre)?signee?s?\b
fr.bon-de-commande :: bon de commande :: fr :: - :: \b(?:ci-jointe?s?|voici|vous trouverez
    |en piece jointe|je vous joins|nous vous joignons|je vous transmets|nous vous transmettons
    |je vous envoie|nous vous envoyons|je vous adresse|nous vous adressons)(?: {ANY}){0,4}
     (?:bon de commande|bdc)\b|\b(?:nous passons|je passe|on passe|nous confirmons) (?:la |notre )?
    commande\b|\bnous (?:vous )?commandons\b|\b(?:bon de commande|bdc)(?: [\w'-]+){0,3}
     (?:emise?|envoyee?|transmise?|partie?|creee?|vient de partir)\b
fr.je-confirme :: je confirme :: fr :: s :: \b(?:je|nous) (?:vous )?confirm(?:e|ons) (?:la |notre
    |cette |ma |l')?(?:commande|validation|accord|engagement|go|lancement|acceptation)\b
en.first-person-approve :: approved :: en :: s :: \b(?:i|we)(?: (?:hereby|fully|formally|both
    |all|do|also|now|just|have|'ve|already|previously))* (?:approve|approved)\b(?! of (?:you|your
    |him|her|them)\b)|\b(?:i|we)'ve approved\b
en.our-side-approved :: approved :: en :: - :: \b(?:our|my) (?:board|management|team|cfo|ceo
    |director|committee|legal|finance|procurement|boss|manager|client)(?: \w+){0,2} (?:has |have )?
    (?:approved|signed off|accepted)\b
en.it-is-approved :: approved :: en :: - :: \b(?:it's|it is|this is|that's|that is|all|everything
    is|everything's) (?:now |hereby |officially |fully |all )?(?:approved|accepted|agreed
    |confirmed|signed off)\b
en.doc-approved :: approved :: en :: p :: \b(?:the|your|this|our|my|that|these|those|both|all)
    (?: [\w-]+){0,2} {DOC_EN}s? (?:is|are|has been|have been|was|were|is now|has now been|'s)
    (?: (?:now|officially|formally|fully|hereby))? (?:approved|accepted|agreed)\b
en.doc-acceptable :: approved :: en :: p :: \b(?:the|these|this|that|your|those|all)(?: [\w-]+){0,2}
     {DOC_EN}s? (?:is|are|looks?|seems?) (?:fine|acceptable|ok|okay|good to go|agreed)\b
en.fine-with-doc :: approved :: en :: s :: \b(?:i'm|i am|we're|we are) (?:fine|ok|okay|happy|good)
     with (?:the|this|that|your|these|those)(?: [\w-]+){0,2} {DOC_EN}s?\b
en.take-up-offer :: we accept :: en :: - :: \b(?:take|taking) (?:you|[\w-]+) up on (?:the|your)
     (?:[\w-]+ )?(?:offer|proposal)\b
en.approval-ok :: approved :: en :: - :: \b(?:approval|sign-?off) (?:ok|granted|given|confirmed)\b
en.our-approval :: you have our approval :: en :: - :: \b(?:this is|consider this(?: email)?
    |take this(?: email)? as|this email (?:is|constitutes|serves as)|here is) (?:\w+ ){0,2}(?:our
    |my) (?:(?:formal|written|official|full|final) )?(?:approval|sign-?off|acceptance|go-ahead
    |agreement)\b|\byou have (?:our|my
    |the) (?:full |formal |official )?(?:approval|agreement|go-ahead|go ahead|green light
    |sign-?off|blessing|ok|okay)\b|\b(?:we|i) (?:hereby )?give (?:you )?(?:our|my
    |the) (?:approval|go-ahead|green light|sign-?off|ok|okay|agreement)\b
en.we-accept :: we accept :: en :: s :: \b(?:we|i) (?:hereby |gladly |happily |formally )?accept
    (?! (?:calls|cash|checks|cheques|credit|cards|payments?|no|that you|it's|it is)\b)\b
    |\b(?:we|i) (?:have )?accepted\b
en.doc-accepted :: accepted :: en :: p :: \b{DOC_EN}s? (?:is |are |has been |have been )?accepted\b
en.we-confirm :: we confirm :: en :: s :: \b(?:we|i) (?:hereby )?confirm (?:the |our |this |my )?
    (?:order|purchase|booking|engagement|acceptance|approval|agreement|go-ahead)\b
en.please-proceed :: please proceed :: en :: - :: \bplease (?:go ahead and |do )?proceed\b
    |\byou (?:can|may) (?:now |go ahead and )?proceed\b|\bfeel free to proceed\b
    |\bproceed as (?:planned
    |proposed|discussed|outlined)\b
en.lets-proceed :: let's proceed :: en :: - :: \blet's (?:go ahead(?! and (?!proceed|start
    |book|order|sign|launch|do it|execute|implement|deploy|begin|purchase|buy|place|issue|move
    |go with)\w)
    |proceed|do it|move forward|go with|get going)\b
en.go-ahead :: go ahead :: en :: - :: (?<!feel free to )(?<!the )(?<!a )\bgo[- ]ahead\b
    (?! and (?!proceed|start|book|order|sign|launch|do it|execute|implement|deploy|begin
    |purchase|buy|place|issue|move|go with|put|schedule|enter|set)\w)
en.happy-to-proceed :: happy to proceed :: en :: - :: \b(?:happy|glad|pleased|ready) to (?:proceed
    |go ahead|move forward|sign off|sign|confirm|accept|approve)\b
en.good-to-go :: good to go :: en :: - :: \b(?:you're|you are|we're|we are|all) good to go\b
en.green-light :: green light :: en :: - :: \bgreen light\b
en.signed :: signed :: en :: - :: \b(?:i|we)(?: have|'ve)?(?: just| now| already)?
     (?:counter)?signed\b(?! up)(?! in\b)(?! out\b)(?! for\b)(?! on\b)|\b(?:signed|countersigned
    |executed) (?:copy|copies|contract|agreement|sow|quote|proposal|order|po|nda|version
    |document|pages?|pdf|form|amendment|offer)s?(?: \w+){0,3} (?:is |are )?(?:attached|enclosed
    |herewith|below)\b|\b(?:attached|enclosed|here is|here's|please find)(?: \w+){0,3}
     (?:signed|countersigned|executed)\b
en.doc-signed :: signed :: en :: p :: \b(?:the|your|this|our|my|that)(?: [\w-]+){0,2} {DOC_EN}s?
     (?:is|are|has been|have been|is now) (?:now )?(?:counter)?signed\b
en.purchase-order :: purchase order :: en :: - :: \b(?:attached|enclosed|here is|here's|please find
    |i've attached|we've attached|sending you)(?: {ANY}){0,4} (?:purchase order|po)\b|\b(?:raised
    |issued|created|placed|released)(?: \w+){0,2} (?:purchase order|po)\b|\b(?:purchase order
    |po)(?: \w+)? (?:has been|was|is|have been) (?:raised|issued|created|placed|released
    |attached)\b
en.its-a-deal :: deal :: en :: - :: \b(?:it's|it is|that's|you have|you've got|we have) a deal\b
en.agree-to :: agreed :: en :: s :: \b(?:i|we)(?: (?:fully|totally|both|all|completely|also|do))*
    (?: have| 've)? agreed? (?:to|with) (?:the |your |this |these |that |our |those |all )?
    (?:[\w-]+ ){0,2}(?:proposal|terms|quote|offer|price|pricing|estimate|plan|approach
    |changes?|conditions|budget|scope|contract|agreement|sow|deal|numbers|figures|revisions?
    |amendment|proceed|go ahead|move forward|fees?|rates?|costs?|amount|price|schedule)\b
fr.c-est-ok-pour-nous :: c'est ok pour nous :: fr :: w :: \b(?:c'est|tout est|c'est bon et) ?(?:ok
    |bon|d'accord|valide) (?:pour|de) (?:nous|moi|notre cote|mon cote)\b|\b(?:ok|bon) (?:pour nous
    |pour moi|de notre cote|de mon cote)\b
fr.ca-nous-va :: ça nous va :: fr :: w :: \b(?:ca|cela) (?:nous|me) (?:va|convient)\b
fr.d-accord :: d'accord :: fr :: sw :: \b(?:nous sommes|je suis|on est)(?: \w+){0,3}
     d'accord\b(?! avec| que\b| qu'| sur le (?:fond|principe)| pour dire)|\b(?:nous sommes|je suis
    |on est)(?: \w+){0,3} d'accord avec (?:votre|vos|la|le|les|ce|cette|ces|l')
     (?:[\w-]+ )?{DOC}
fr.accord-pour :: accord pour :: fr :: w :: (?<!d')\baccord (?:pour|sur)\b
fr.go-pour :: go pour :: fr :: w :: \bgo pour\b|\bc'est (?:un )?go\b|\bon y va\b|\bc'est parti\b
    |\bon lance\b|\bon part (?:sur|la-dessus|comme ca)\b
"""
)

# A clause that is nothing but an approval: "Validé.", "OK, validé !", "Confirmed!",
# "Agreed, …" (the first clause), "No further comments, approved." (the last one).
TERSE = _parse(
    r"""
fr.terse-valide :: validé :: fr :: - :: ^(?:(?:ok|oui|parfait|top|super|tres bien|impeccable
    |nickel|bien recu|merci|c'est bon)[ ,!.]+)?(?:validee?s?|approuvee?s?|acceptee?s?
    |confirmee?s?|valide et approuve)(?: (?:pour nous|de notre cote|de mon cote|par nos soins))?
    [ !.]*$
fr.terse-bpa :: bon pour accord :: fr :: - :: ^(?:bpa|bon pour accord|validation ok
    |accord ok)[ !.]*$
fr.terse-accord :: notre accord :: fr :: - :: ^(?:accord|accord de principe definitif
    |accord total|accord complet)(?: de notre part| pour nous)?[ !.]*$
en.terse-approved :: approved :: en :: - :: ^(?:(?:ok|okay|yes|great|good|perfect|fine|thanks
    |looks good|all good|sounds good)[ ,!.-]+)?(?:approved|accepted|signed off|approval ok
    |sign-?off ok)(?: (?:from (?:our|my) side|on (?:our|my) side|by me|by us))?[ !.]*$
en.terse-agreed :: agreed :: en :: - :: ^(?:(?:ok|okay|yes|fine)[ ,!.-]+)?agreed(?: on (?:all points
    |everything|this|that|the terms))?(?: (?:from (?:our|my) side|on (?:our|my) side))?[ !.]*$
en.terse-confirmed :: we confirm :: en :: - :: ^(?:(?:ok|okay|yes|fine|thanks)[ ,!.-]+)?confirmed
    (?: (?:from (?:our|my) side|on (?:our|my) side|by me|by us))?[ !.]*$
en.terse-deal :: deal :: en :: - :: ^deal[ !.]*$
en.terse-go-ahead :: go ahead :: en :: - :: ^(?:(?:ok|okay|yes|fine)[ ,!.-]+)?go ahead[ !.]*$
"""
)

# --- suppressors and context (agreements.py applies them) ---------------------------

POLITE_SIL = re.compile(r"\bs'il (?:vous|te) plait\b|\bsvp\b")
QUESTION = re.compile(
    r"\b(?:pouvez|pourriez|peux|pourrais|voulez|voudriez|veux|souhaitez|avez|etes|auriez"
    r"|seriez|pensez|croyez|sommes|devons|doit|faut)-(?:vous|tu|nous|il|on)\b|-t-(?:il|elle|on)\b"
    r"|\best-ce\b|\best ce que\b|\bje me demandais\b|\bje voulais savoir\b|\bdites-moi\b"
    r"|\b(?:can|could|would|will) you\b|\bwondering\b|\bdo you (?:think|agree|approve)\b"
    r"|^(?:so |and |also |then |ok |hi \w+ )?(?:can|could|would|will|do|does|did|shall|should"
    r"|may|is|are|was|were|has|have|any chance)\b"
)
CONDITIONAL = re.compile(
    r"\bsi\b|\bs'ils?\b|\bune fois\b|\bdes que\b|\bdes reception\b|\bsous reserve\b"
    r"|\ba condition\b|\bpourvu que\b|\bsauf\b|\ben cas de\b|\blorsque\b"
    r"|\bapres (?:validation|accord|signature|reception)\b"
    r"|\b(?:valid|approuv|sign|accept|confirm|donn)er(?:ai|as|a|ons|ez|ont|ais|ait|ions|iez|aient)\b"
    r"|\bser(?:ai|a|ons|ont|ais|ait|aient)\b|\bpourr(?:ai|a|ons|ez|ont|ais|ait|ions|iez|aient)\b"
    r"|\bdevr(?:ai|a|ons|ez|ont|ais|ait|ions|iez|aient)\b"
    r"|\b(?:vais|va|allons|allez|vont|aller)(?: \w+){0,2} (?:valider|signer|approuver|accepter"
    r"|donner|confirmer|lancer|commander)\b|\bprobablement\b|\bsans doute\b|\ba priori\b"
    r"|\bnormalement\b|\ben principe\b|\bde principe\b|\bsur le principe\b|\bpeut-etre\b"
    r"|\beventuellement\b|\benvisag\w*|\bil me semble\b|\bje pense que\b|\bje crois que\b"
    r"|\bpas avant\b|\bif\b|\bonce\b|\bpending\b|\bprovided\b|\bsubject to\b|\bunless\b"
    r"|\bi think\b|\bi believe\b|\bimho\b|\bin my opinion\b"
    r"|\bas soon as\b|\bassuming\b|\bin case\b|\bin principle\b|\bprobably\b|\bmaybe\b"
    r"|\bperhaps\b|\bhopefully\b|\blikely\b|\btentative\w*|\bexpect(?:ed)? to\b|\bnot until\b"
    r"|\bas long as\b|\btant que\b|\bjusqu'a ce que\b|\buntil\b"
    r"|(?:\bwill|'ll|\bwould|'d|\bshould|\bcould|\bmight|\bmay|\bmust|\bshall|\bgoing to|\bgonna"
    r"|\bplan(?:ning)? to|\bintend to|\bhope to|\babout to|\bwants? to|\bneeds? to|\bhave to"
    r"|\bhas to)(?: \w+){0,2} (?:approved?|sign(?:ed)?|accept(?:ed)?|agreed?|validated?"
    r"|confirmed?|give)\b"
    r"|\bafter (?:approval|sign-?off|review)\b|\bwhen (?:it|this|the \w+) (?:is|'s|has|gets)\b"
)
REQUEST = re.compile(
    r"\bmerci de (?:bien vouloir )?(?:nous |me )?(?:valider|confirmer|signer|retourner"
    r"|renvoyer|approuver|donner|faire valider|faire signer|transmettre)\b"
    r"|\bje vous (?:prie|remercie|serais reconnaissante?) de (?:bien vouloir )?(?:valider"
    r"|signer|confirmer|approuver|nous|me|retourner)\b"
    r"|(?<!bon )\bpour (?:validation|approbation|signature|accord|avis|relecture)\b"
    r"|\ba (?:valider|signer|approuver|faire valider)\b|\ben attente (?:de|du|d')"
    r"|\battend(?:s|ons|re)?(?: \w+){0,2} (?:votre|la|le|ta|leur|son)(?: \w+)? (?:validation"
    r"|accord|signature|approbation|feu vert|retour|go)\b"
    r"|\b(?:doit|doivent|faut|reste a|restent a)(?: \w+){0,3} (?:validee?s?|signee?s?"
    r"|approuvee?s?|valider|signer|approuver|etre)\b|\bsoumi[st]\b|\bsoumettre\b|\bsoumettons\b"
    r"|\ben cours (?:de|d')|\bdemande (?:de |d')(?:validation|accord|signature|approbation)\b"
    r"|\b(?:besoin|attente|recevoir|obtenir) (?:de )?(?:votre|ton) (?:validation|accord"
    r"|approbation|feu vert|signature)\b|\bmention\b|\bpas encore\b"
    r"|\bvalidation (?:interne|de la direction|du comite|par)\b"
    r"|\bplease (?:approve|sign|confirm|validate|review|countersign)\b"
    r"|\bkindly (?:approve|sign|confirm|review)\b"
    r"|\bfor (?:your |our |their |internal |final )?(?:approval|signature|review|sign-?off"
    r"|validation|consideration)\b|\b(?:awaiting|await|waiting (?:for|on)|wait for|pending)\b"
    r"|\b(?:need|needs|require|requires|required|requesting|request|requested|seek|seeking"
    r"|get|getting|obtain)(?: \w+){0,2} (?:approval|sign-?off|signature|go-ahead|green light"
    r"|agreement)\b|\bto be (?:approved|signed|agreed|validated|confirmed)\b"
    r"|\b(?:approval|signature) (?:request|needed|required|pending|process|workflow)\b"
    r"|\bin progress\b|\bunder review\b|\bsubmitted\b|\bnot yet\b|\blet (?:me|us) know\b"
    r"|\bil (?:faut|faudrait|faudra)\b|\b(?:soit|soient) (?:\w+ )?(?:signee?s?|validee?s?"
    r"|approuvee?s?)\b|\b(?:tenez|dites|faites)-(?:moi|nous)\b"
    r"|\bstill (?:needs?|requires?|has to|waiting)\b"
    r"|\b(?:send|return|forward|mail|fax|e-?mail)(?: \w+){0,4} (?:signed|executed"
    r"|countersigned)\b|\bsign,? (?:and|&) (?:return|fax|send|notari[sz]e|mail)\b"
    r"|\bplease (?:print|look over|sign off)\b|\b(?:retourner|renvoyer|envoyer|transmettre)"
    r"(?: [\w'-]+){0,4} (?:signee?s?|bpa|bon pour accord)\b"
    r"|\bil nous faut\b|\b(?:we )?need your\b|\bawaiting your\b"
)
NEUTRAL_IDIOMS = re.compile(
    r"\bpas de (?:soucis?|problemes?|objections?|remarques?|modifications?|changements?"
    r"|commentaires?|retours?)\b|\bsans (?:soucis?|problemes?|reserves?|objections?"
    r"|modifications?|changements?)\b|\bn'hesitez? pas\b|\baucune? (?:objection|remarque"
    r"|souci|probleme|modification|reserve|commentaire)s?\b|\brien a (?:redire|ajouter|signaler)\b"
    r"|\bno (?:problems?|worries|objections?|changes|further \w+|comments|concerns|issues?)\b"
    r"|\bdon't hesitate\b|\bnot only\b|\bnothing to (?:add|change)\b|\bpas mal\b"
    r"|\bwithout (?:reservations?|changes|further changes|objections?)\b|\bwhy not\b"
    r"|\bpourquoi pas\b|\bno (?:further )?remarks?\b|\bnothing further\b"
    r"|\b(?:des que|aussi vite que|le plus tot) possible\b|\bas soon as possible\b|\basap\b"
    r"|\bn'(?:avons|ai|a|ont) (?:pas|aucune?) (?:de |d')?(?:remarques?|commentaires?|objections?"
    r"|modifications?|reserves?|retours?)\b|\b(?:we|i) have no (?:further )?(?:comments?"
    r"|remarks?|objections?|concerns?)\b"
)
CONTRAST = re.compile(
    r"\b(?:mais|but|however|cependant|toutefois|en revanche|par contre|neanmoins|pourtant"
    r"|though|although)\b"
)
NEGATION = re.compile(
    r"\bne\b|\bn'|\bpas\b|\bjamais\b|\baucune?\b|\bni\b|\bsans\b|\bnot\b|n't\b|\bnever\b"
    r"|\bno longer\b|\bcannot\b|\bunable\b|\brefus\w*|\brejet\w*|\breject\w*|\bdeclin\w*"
    r"|\bnor\b|\bneither\b|\bwithout\b|\bplutot que\b|\binstead of\b|\brather than\b"
)
IMMEDIATE_NEGATION = re.compile(r"(?:\bnon|\bpas|\bnot|\bnever|\bjamais)[\s-]*$")
NEGATION_AFTER = re.compile(r"^(?:\w+ )?(?:pas|point|jamais|not|never)\b")
SCHEDULE_NOUN = re.compile(
    r"\b(?:reunion|rdv|rendez-vous|visio\w*|call|meeting|creneau|dejeuner|diner|cafe|appel"
    r"|point telephonique|webinar|slot|meet|lunch|dinner|drinks|appointment|interview)\b"
)
RECEIVED_BEFORE = re.compile(
    r"\b(?:thanks? (?:you )?for|merci pour|merci de|received|recu|reception|got)\b"
)
BY_ME_AFTER = re.compile(r"^ (?:par (?:vos soins|vous|toi)|by you|from you|de votre part)\b")
SCHEDULE_AFTER = re.compile(
    r"\b(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain|ce soir|ce matin"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight"
    r"|\d{1,2} ?h\d{0,2}|\d{1,2}:\d{2}|\d{1,2} ?(?:am|pm)|un point|next week"
    r"|la semaine prochaine)\b"
)
# Bulk mail the automated rule lets through (no list headers): system senders and the
# footers only mass mail carries. Searched in the unquoted part of the body.
BULK_SENDER = re.compile(
    r"^(?:newsletters?|news|marketing|promos?|promotions?|offers?|deals|orders?|commandes?"
    r"|notifications?|alerts?|updates?|mailer|mailers|bounces?|automailer|system|robot"
    r"|daemon|auto|autoreply|campaigns?|emailing|e-?news|digest)(?:[+._-]|$)"
)
BULK_MARKER = re.compile(
    r"unsubscribe|desinscri|desabonn|opt[- ]?(?:in|out)\b|view (?:this|it) (?:email |e-mail )?"
    r"in (?:your|a) (?:web )?browser|to be removed from"
    r"|manage (?:your )?(?:e-?mail |subscription )?preferences|si vous ne souhaitez plus recevoir"
    r"|this is an automated|generated e-?mail"
    r"|do not reply|ne pas repondre|ne repondez pas|mailing list removal|you are receiving this"
    r"|vous recevez ce (?:message|courriel|mail)"
)
# "their plan was approved", "leur devis a été validé": someone else's approval, reported.
THIRD_PARTY_BEFORE = re.compile(r"\b(?:their|his|her|its|leur|leurs|son|sa|ses|they|ils|elles)\W*$")
GOVERNMENT_AFTER = re.compile(
    r"^ (?:par|by) (?:la |le |les |l'|the )?(?:mairie|parlement|prefecture|etat|gouvernement"
    r"|actionnaires|conseil (?:municipal|d'administration|constitutionnel)|tribunal|commission"
    r"|senat|assemblee|regulators?|shareholders|parliament|congress|senate|court|government"
    r"|city council|ferc|sec|fda|authorities)\b"
)
# Quoted speech in a forwarded article or a report ('"I approve of it," said Fryman.')
# is somebody else's words, never the sender's approval.
REPORTED_SPEECH = re.compile(
    r"[\"\u00bb]\s*,?\s*(?:\w+\.?\s){0,3}(?:said|says|told|added|explained"
    r"|a dit|a declare|a ajoute|a explique|declare|ajoute|explique)\b"
)
PROPOSAL = re.compile(
    r"\?|\bhow about\b|\bperhaps\b|\bmaybe\b|\bi'll\b|\bi will\b|\blet'?s\b|\bs/|\bhere'?s\b"
    r"|\bhere is\b|\bi propose\b|\bsuggest|\bcould also\b|\bwe could\b|\bshall we\b|\bplease\b"
    r"|\bi'd like to\b|\bshould (?:i|we)\b|\bwhat about\b|\bwould you\b"
)
COMMITMENT = re.compile(
    r"\bi'll\b|\bi will\b|\bwill (?:do|fix|change|update|send)\b|\bapplied\b|\bqueued\b"
    r"|\bi(?:'ve| have)? (?:changed|fixed|updated|removed|reworded)\b|\btake (?:this|the) patch\b"
)
