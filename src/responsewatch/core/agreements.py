"""Approval / agreement detection in client messages (French and English).

Precision matters more than recall: an archived "agreement" that is not one is worse than
a missed one, because the archive is evidence. So every sentence must carry an explicit
approval phrase and no suppressor (negation, question, condition/future, request for
approval), and only the *new* text of the message is read: quoted history, reply
headers, signatures and disclaimers are cut first (:func:`new_text`).

Quote stripping is implemented here rather than with ``mail-parser-reply``: that library
does not handle French reply headers wrapped over two lines, nor the ``-- `` separator,
and it ships no type information for ``mypy --strict``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Detection", "detect_agreement", "new_text"]

_EXCERPT_MAX = 200
_HEADER_MAX = 300


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected approval: the canonical phrase, where it was found, and its language."""

    phrase: str
    excerpt: str
    language: str
    rule: str = ""


# Typographic apostrophes, quotes, dashes and non-breaking spaces, as Outlook and macOS type them.
_FOLD = str.maketrans("’‘`´ʼ«»“”–—‑\u00a0\u202f\u2009", "'''''\"\"\"\"---   ")


def fold(text: str) -> str:
    """Lower-case, typographic quotes/spaces made plain, accents removed.

    Patterns are written against this form, so "Validé", "VALIDE" and "validé" are one.
    """
    if text.isascii():
        return text.lower()  # the common case, and the translation/NFKD below are no-ops on it
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    # The combining-mark blocks in one C-level pass (a per-character loop was the hot spot).
    return _COMBINING_MARKS.sub("", decomposed).lower()


_COMBINING_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


# --- pattern tables (all written against fold()ed text) ----------------------------------

_DOC = (
    r"(?:devis|proposition|propale|offre|budget|planning|commande|maquettes?|bat|contrat"
    r"|avenant|chiffrage|estimation|livrables?|version|cahier des charges|specifications?"
    r"|tarifs?|montant|facture|conditions|bon de commande|bdc|lettre de mission|convention"
    r"|perimetre|cadrage|note de cadrage|recette|plan d'action|scenario|option|formule"
    r"|mise en production|mep|prestation|mission|phase \d|v\d)"
)
_ANY = r"[\w'-]+"


_SEPARATOR = re.compile(
    r"^(?:-{2,} ?(?:original message|message d'origine|message original|mail original"
    r"|forwarded message|message transfere|e-mail d'origine|courriel d'origine|message initial)"
    r" ?-{2,}|_{8,}|-{8,}|begin forwarded message ?:|debut du message (?:reexpedie|transfere) ?:)"
)
_SENT_FROM = re.compile(
    r"^(?:envoye (?:de|depuis) mon|envoye a partir de|sent from my|sent from outlook"
    r"|get outlook for|telecharger outlook)"
)
_INLINE_HEADER_BLOCK = re.compile(r"^\*?(?:de|from) ?:.{0,200}\b(?:objet|subject|envoye|sent) ?:")
_WROTE_START = re.compile(r"^(?:le|on|am|el|op)\s.*\d")
_WROTE_END = re.compile(r"\d.*\b(?:a ecrit|wrote|ecrit)\s?:\s*$")
_WROTE_ALONE = re.compile(r"^.{0,150}(?:<[^>]+@[^>]+>|\d).{0,80}\b(?:a ecrit|wrote)\s?:\s*$")
_HEADER_FROM = re.compile(r"^\*?(?:de|from|expediteur)\s?:\s?\*?\s?\S")
_HEADER_OTHER = re.compile(
    r"^\*?(?:envoye|envoye le|sent|date|a|to|objet|subject|cc|destinataire)\s?:"
)
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

_POLITE_SIL = re.compile(r"\bs'il (?:vous|te) plait\b|\bsvp\b")
_QUESTION = re.compile(
    r"\b(?:pouvez|pourriez|peux|pourrais|voulez|voudriez|veux|souhaitez|avez|etes|auriez"
    r"|seriez|pensez|croyez|sommes|devons|doit|faut)-(?:vous|tu|nous|il|on)\b|-t-(?:il|elle|on)\b"
    r"|\best-ce\b|\best ce que\b|\bje me demandais\b|\bje voulais savoir\b|\bdites-moi\b"
    r"|\b(?:can|could|would|will) you\b|\bwondering\b|\bdo you (?:think|agree|approve)\b"
    r"|^(?:so |and |also |then |ok |hi \w+ )?(?:can|could|would|will|do|does|did|shall|should"
    r"|may|is|are|was|were|has|have|any chance)\b"
)
_CONDITIONAL = re.compile(
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
    r"|\bas soon as\b|\bassuming\b|\bin case\b|\bin principle\b|\bprobably\b|\bmaybe\b"
    r"|\bperhaps\b|\bhopefully\b|\blikely\b|\btentative\w*|\bexpect(?:ed)? to\b|\bnot until\b"
    r"|(?:\bwill|'ll|\bwould|'d|\bshould|\bcould|\bmight|\bmay|\bshall|\bgoing to|\bgonna"
    r"|\bplan(?:ning)? to|\bintend to|\bhope to|\babout to|\bwants? to|\bneeds? to|\bhave to"
    r"|\bhas to)(?: \w+){0,2} (?:approved?|sign(?:ed)?|accept(?:ed)?|agreed?|validated?"
    r"|confirmed?|give)\b"
    r"|\bafter (?:approval|sign-?off|review)\b|\bwhen (?:it|this|the \w+) (?:is|'s|has|gets)\b"
)
_REQUEST = re.compile(
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
)
_NEUTRAL_IDIOMS = re.compile(
    r"\bpas de (?:soucis?|problemes?|objections?|remarques?|modifications?|changements?"
    r"|commentaires?|retours?)\b|\bsans (?:soucis?|problemes?|reserves?|objections?"
    r"|modifications?|changements?)\b|\bn'hesitez? pas\b|\baucune? (?:objection|remarque"
    r"|souci|probleme|modification|reserve|commentaire)s?\b|\brien a (?:redire|ajouter|signaler)\b"
    r"|\bno (?:problems?|worries|objections?|changes|further \w+|comments|concerns|issues?)\b"
    r"|\bdon't hesitate\b|\bnot only\b|\bnothing to (?:add|change)\b|\bpas mal\b"
    r"|\bwithout (?:reservations?|changes|further changes|objections?)\b|\bwhy not\b"
    r"|\bpourquoi pas\b"
)
_CONTRAST = re.compile(
    r"\b(?:mais|but|however|cependant|toutefois|en revanche|par contre|neanmoins|pourtant"
    r"|though|although)\b"
)
_NEGATION = re.compile(
    r"\bne\b|\bn'|\bpas\b|\bjamais\b|\baucune?\b|\bni\b|\bsans\b|\bnot\b|n't\b|\bnever\b"
    r"|\bno longer\b|\bcannot\b|\bunable\b|\brefus\w*|\brejet\w*|\breject\w*|\bdeclin\w*"
    r"|\bnor\b|\bneither\b|\bwithout\b|\bplutot que\b|\binstead of\b|\brather than\b"
)
_IMMEDIATE_NEGATION = re.compile(r"(?:\bnon|\bpas|\bnot|\bnever|\bjamais)[\s-]*$")
_NEGATION_AFTER = re.compile(r"^(?:\w+ )?(?:pas|point|jamais|not|never)\b")
_SCHEDULE_NOUN = re.compile(
    r"\b(?:reunion|rdv|rendez-vous|visio\w*|call|meeting|creneau|dejeuner|diner|cafe|appel"
    r"|point telephonique|webinar|slot)\b"
)
_RECEIVED_BEFORE = re.compile(
    r"\b(?:thanks? (?:you )?for|merci pour|merci de|received|recu|reception|got)\b"
)
_BY_ME_AFTER = re.compile(r"^ (?:par (?:vos soins|vous|toi)|by you|from you|de votre part)\b")
_SCHEDULE_AFTER = re.compile(
    r"\b(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain|ce soir|ce matin"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight"
    r"|\d{1,2} ?h\d{0,2}|\d{1,2}:\d{2}|\d{1,2} ?(?:am|pm)|un point|next week"
    r"|la semaine prochaine)\b"
)
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
_ENGLISH_HINT = re.compile(
    r"\b(?:the|and|we|you|is|please|find|attached|hi|hello|thanks|our|with)\b"
)
_FRENCH_HINT = re.compile(
    r"\b(?:le|la|les|de|des|du|et|je|nous|vous|est|pour|bonjour|merci|ci-joint)\b"
)


@dataclass(frozen=True, slots=True)
class _Phrase:
    canonical: str
    language: str
    pattern: re.Pattern[str]
    has_subject: bool  # the phrase opens its own clause ("je valide", "we accept")
    weak: bool  # also said of meetings and dates ("d'accord pour mardi"): checked for those


def _parse_phrases(table: str) -> tuple[_Phrase, ...]:
    rows: list[list[str]] = []
    for line in table.strip("\n").splitlines():
        if line.startswith(" "):
            rows[-1][3] += line.strip()
        else:
            rows.append([part.strip() for part in line.split("::", 3)])
    return tuple(
        _Phrase(
            name,
            lang,
            re.compile(rx.replace("{DOC}", _DOC).replace("{ANY}", _ANY)),
            "s" in flags,
            "w" in flags,
        )
        for name, lang, flags, rx in rows
    )


# canonical :: language :: flags (s: opens its own clause, w: weak) :: regex on fold()ed text;
# an indented line continues the regex above. First match wins, so specific phrases come
# first and weak ones (also said of meetings: "d'accord pour mardi 14h") last.
_PHRASES = _parse_phrases(
    r"""
bon pour accord :: fr :: - :: \bbon pour accord\b|\bbpa\b
je valide :: fr :: s :: \bje (?:vous |te |le |la |les )?valide\b|\bj'ai (?:bien )?valide\b
    |\bje viens de valider\b
nous validons :: fr :: s :: \bnous (?:vous |le |la |les |l')?validons\b
    |\bon (?:le |la |les |l')?valide\b|\b(?:nous avons|on a) (?:bien )?valide\b
c'est validé :: fr :: s ::
    \bc'est (?:tout |bien |donc |maintenant |desormais |officiellement )?validee?s?\b
validé de notre côté :: fr :: - :: \bvalidee?s? (?:de notre cote|de mon cote|pour nous|pour moi
    |cote client|chez nous|par (?:notre|la|ma) direction|par (?:le|notre) (?:comite|codir|comex
    |dg|directeur|president))\b
validé :: fr :: - :: \b{DOC}s? (?:\w+ )?(?:(?:est|sont|a|ont)(?: bien| donc| desormais)?(?: ete)?
    )?(?:validee?s?|approuvee?s?|acceptee?s?)\b
    |^(?:(?:ok|oui|parfait|top|super|tres bien|impeccable|nickel
    |bonjour \w+)[ ,!.]+)?(?:validee?s?|approuvee?s?)\b
j'approuve :: fr :: s :: \bj'approuve\b|\bnous approuvons\b|\b(?:j'ai|nous avons) approuve\b
validé :: fr :: - :: \b(?:a|ont) (?:bien |formellement |officiellement )?(?:validee?|approuvee?
    |acceptee?)\b
nous acceptons :: fr :: s :: \bnous (?:l'|les |vous )?acceptons\b|\bon accepte\b
    |\bnous avons accepte\b
j'accepte :: fr :: s :: \bj'accepte\b|\bj'ai accepte\b
ok pour le devis :: fr :: - :: \b(?:ok|oui|bon|d'accord) (?:pour|sur) (?:(?:le|la|les|ce|cet
    |cette|ces|votre|vos|notre|nos) |l')?(?:(?:nouvel(?:le)?|nouveau|dernier|derniere) )?{DOC}s?\b
    |\bok pour (?:le )?(?:lancement|demarrage|lancer|demarrer|commencer|commander|proceder
    |passer commande|facturer)\b
notre accord :: fr :: - :: \b(?:donne|donnons|confirme|confirmons|avez|as
    |voici)(?: \w+){0,3} (?:notre|mon) (?:plein |entier |total )?accord\b|\b(?:notre
    |mon) accord (?:pour|sur)\b
vous pouvez lancer :: fr :: - :: \b(?:vous pouvez|tu peux)(?: donc| des a present| maintenant
    | des maintenant| bien| tout a fait)? (?:y aller|lancer|demarrer|commencer|proceder|engager
    |commander|passer (?:la )?commande|aller de l'avant|avancer|mettre en production|facturer
    |deployer|planifier|enclencher|programmer)\b
lancez :: fr :: - :: \b(?:lancez|allez-y|allez y|foncez|enclenchez|demarrez)\b
feu vert :: fr :: - :: \bfeu vert\b|\b(?:avez|as|donne|donnons) (?:le|notre|mon) go\b
retenu :: fr :: - :: \bnous (?:avons )?reten(?:ons|u)\b|\b(?:proposition|offre|candidature|devis
    |propale)s? (?:a ete |est |ont ete |sont )?retenue?s?\b|\b(?:nous donnons|je donne) suite\b
signé :: fr :: - :: \b(?:{DOC}|document|exemplaire|accord|nda
    |pv)s?(?: {ANY}){0,2} (?:contre)?signee?s?\b|\b(?:j'ai|nous avons|on a|je viens de
    |nous venons de)(?: bien)? (?:contre)?signe\b|\bsignee?s? et (?:tamponnee?s?|datee?s?
    |paraphee?s?|renvoyee?s?|retournee?s?|cachetee?s?)\b|\b(?:je signe|nous signons)\b
    |\b(?:a|ont) (?:bien )?(?:contre)?signe\b
bon de commande :: fr :: - :: \b(?:ci-jointe?s?|voici|vous trouverez|en piece jointe
    |je vous joins|nous vous joignons|je vous transmets|nous vous transmettons|je vous envoie
    |nous vous envoyons|je vous adresse|nous vous adressons)(?: {ANY}){0,4} (?:bon de commande
    |bdc)\b|\b(?:nous passons|je passe|on passe|nous confirmons) (?:la |notre )?commande\b
    |\bnous (?:vous )?commandons\b|\b(?:bon de commande|bdc)(?: [\w'-]+){0,3} (?:emise?|envoyee?
    |transmise?|partie?|creee?)\b
je confirme :: fr :: s :: \b(?:je|nous) (?:vous )?confirm(?:e
    |ons) (?:la |notre |cette |ma |l')?(?:commande|validation|accord|engagement|go|lancement
    |acceptation)\b
approved :: en :: - :: \b(?:i|we) (?:hereby |fully |formally |both )?approve\b
    |(?<!the )(?<!an )(?<!our )(?<!your )(?<!their )\bapproved\b
you have our approval :: en :: - :: \b(?:this is|consider this(?: email)?
    |take this(?: email)? as|this email (?:is|constitutes|serves as)|here is) (?:\w+ ){0,2}(?:our
    |my) (?:(?:formal|written|official|full|final) )?(?:approval|sign-?off|acceptance|go-ahead
    |agreement)\b|\byou have (?:our|my
    |the) (?:full |formal |official )?(?:approval|agreement|go-ahead|go ahead|green light
    |sign-?off|blessing|ok|okay)\b|\b(?:we|i) (?:hereby )?give (?:you )?(?:our|my
    |the) (?:approval|go-ahead|green light|sign-?off|ok|okay|agreement)\b
we accept :: en :: s :: \b(?:we|i) (?:hereby |gladly |happily |formally )?accept\b|\b(?:we
    |i) (?:have )?accepted\b
accepted :: en :: - :: \b(?:quote|proposal|offer|estimate|terms|budget|plan|quotation|sow
    |pricing|price|deliverable|report|scope|timeline|contract|invoice|statement of work|design
    |mock-?up|spec|specification|change)s? (?:is |are |has been |have been )?accepted\b
    |^accepted\b
we confirm :: en :: s :: \b(?:we|i) (?:hereby )?confirm (?:the |our |this |my )?(?:order
    |purchase|booking|engagement|acceptance|approval|agreement|go-ahead)\b
please proceed :: en :: - :: \bplease (?:go ahead and |do )?proceed\b|\byou (?:can
    |may) (?:now |go ahead and )?proceed\b|\bfeel free to proceed\b|\bproceed as (?:planned
    |proposed|discussed|outlined)\b
let's proceed :: en :: - :: \blet's (?:go ahead|proceed|do it|move forward|go with)\b
go ahead :: en :: - :: \bgo[- ]ahead\b
happy to proceed :: en :: - :: \b(?:happy|glad|pleased|ready) to (?:proceed|go ahead|move forward
    |sign off|sign|confirm|accept|approve)\b
good to go :: en :: - :: \b(?:you're|you are|we're|we are|all) good to go\b
green light :: en :: - :: \bgreen light\b
signed :: en :: - :: \b(?:counter)?signed\b(?! up)(?! in\b)(?! out\b)(?! for\b)
purchase order :: en :: - :: \b(?:attached|enclosed|here is|here's|please find|i've attached
    |we've attached|sending you)(?: {ANY}){0,4} (?:purchase order|po)\b|\b(?:raised|issued
    |created|placed|released)(?: \w+){0,2} (?:purchase order|po)\b|\b(?:purchase order
    |po)(?: \w+)? (?:has been|was|is|have been) (?:raised|issued|created|placed|released
    |attached)\b
deal :: en :: - :: \bit's a deal\b|^deal\b
c'est ok pour nous :: fr :: w :: \b(?:c'est|tout est|c'est bon et) ?(?:ok|bon|d'accord
    |valide) (?:pour|de) (?:nous|moi|notre cote|mon cote)\b|\b(?:ok|bon) (?:pour nous|pour moi
    |de notre cote|de mon cote)\b
ça nous va :: fr :: w :: \b(?:ca|cela) (?:nous|me) (?:va|convient)\b
d'accord :: fr :: sw :: \b(?:nous sommes|je suis|on est)(?: \w+){0,3} d'accord\b(?! avec)
accord pour :: fr :: w :: \baccord (?:pour|sur)\b
go pour :: fr :: w :: \bgo pour\b|\bc'est (?:un )?go\b|\bon y va\b|\bc'est parti\b|\bon lance\b
    |\bon part (?:sur|la-dessus|comme ca)\b
agreed :: en :: w ::
    (?<!as )(?<!the )(?<!previously )(?<!mutually )\bagreed\b(?! upon)(?! to meet)|\b(?:i
    |we) (?:fully |totally |both |all |completely )?agree\b(?! with)
"""
)


# --- new text: quotes, reply headers, signatures, disclaimers ----------------------------


def _is_reply_header(lines: Sequence[str], i: int) -> bool:
    first = fold(lines[i]).strip()
    if _SEPARATOR.match(first) or _SENT_FROM.match(first):
        return True
    if _INLINE_HEADER_BLOCK.search(first):
        return True
    if _WROTE_ALONE.match(first):
        return True
    if _WROTE_START.match(first):
        # Gmail and Apple Mail wrap "Le lun. 3 nov. 2026 à 10:12, X <x@y> a écrit :" at
        # 72-78 columns, so the header may end one or two lines further down.
        joined = first
        for extra in range(1, 4):
            if len(joined) > _HEADER_MAX:  # also keeps the regex linear on long lines
                return False
            if _WROTE_END.search(joined):
                return True
            if i + extra >= len(lines) or not lines[i + extra].strip():
                return False
            joined = f"{joined} {fold(lines[i + extra]).strip()}"
        return len(joined) <= _HEADER_MAX and bool(_WROTE_END.search(joined))
    if _HEADER_FROM.match(first):
        # An Outlook block is a From line followed by other header lines; one "De :" line
        # on its own may be ordinary prose.
        following = [fold(x).strip() for x in lines[i + 1 : i + 6] if x.strip()]
        return any(_HEADER_OTHER.match(x) for x in following[:4])
    return False


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
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue  # inline replies keep their unquoted lines
        if line.rstrip("\n") in ("-- ", "--") or _is_reply_header(lines, i):
            break
        kept.append(line.rstrip())
    kept = _cut_disclaimer(_cut_signoff(kept))
    return "\n".join(kept).strip()


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
    return _NEUTRAL_IDIOMS.sub(lambda m: "x" * len(m.group(0)), folded)


def _sentence_blocked(folded: str) -> str | None:
    """Why a whole (folded) sentence cannot hold an approval, or None."""
    if "?" in folded or _QUESTION.search(folded):
        return "question"
    if _REQUEST.search(folded):
        return "request"
    cleaned = _POLITE_SIL.sub(" ", folded)
    if _CONDITIONAL.search(cleaned):
        return "conditional"
    return None


def _negated(neutral: str, start: int, end: int, has_subject: bool) -> bool:
    before = neutral[:start]
    contrast = list(_CONTRAST.finditer(before))
    if contrast:
        before = before[contrast[-1].end() :]
    if _IMMEDIATE_NEGATION.search(before):
        return True
    if has_subject:
        # "je valide" starts its own clause: a negation before the last comma is elsewhere.
        before = re.split(r"[,;:]", before)[-1]
    window = " ".join(before.split()[-6:])
    if _NEGATION.search(window):
        return True
    after = " ".join(neutral[end:].split()[:2])
    return bool(_NEGATION_AFTER.match(after))


def _about_scheduling(folded: str, end: int) -> bool:
    after = " ".join(folded[end:].split()[:5])
    return bool(_SCHEDULE_AFTER.search(after))


def _not_theirs(phrase: _Phrase, before: str, after: str) -> bool:
    """A signed document the client thanks me for, or received from me, is not their commitment."""
    if phrase.canonical not in ("signé", "signed"):
        return False
    return bool(_RECEIVED_BEFORE.search(before) or _BY_ME_AFTER.match(after))


def _match_sentence(sentence: str) -> Detection | None:
    folded = " ".join(fold(sentence).split())
    if _sentence_blocked(folded) or _SCHEDULE_NOUN.search(folded):
        return None  # approving a meeting slot is not approving work
    neutral = _neutralise(folded)
    for phrase in _PHRASES:
        for match in phrase.pattern.finditer(neutral):
            if _negated(neutral, match.start(), match.end(), phrase.has_subject):
                continue
            if phrase.weak and _about_scheduling(neutral, match.end()):
                continue
            if _not_theirs(phrase, neutral[: match.start()], neutral[match.end() :]):
                continue
            return Detection(phrase.canonical, _excerpt(sentence), phrase.language)
    return None


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
        if _sentence_blocked(folded) or _NEGATION.search(neutral):
            return True
    return False


def _language_of(text: str) -> str:
    folded = fold(text)
    english = len(_ENGLISH_HINT.findall(folded))
    return "en" if english > len(_FRENCH_HINT.findall(folded)) else "fr"


def detect_agreement(
    body: str,
    *,
    subject: str = "",
    attachments: Sequence[str] = (),
    from_me: bool = False,
    automated: bool = False,
) -> Detection | None:
    """The first approval in the new text of a client message, else a signed attachment.

    ``subject`` is accepted but never matched: approval words only in the Subject do not
    count (a "Validation devis" subject is usually a request). Mine and automated mail
    never count, even from a client's domain.
    """
    del subject
    if from_me or automated:
        return None
    text = new_text(body)
    for sentence in _sentences(text):
        found = _match_sentence(sentence)
        if found is not None:
            return found
    if _attachments_blocked(text):
        return None
    for name in attachments:
        if _signed_attachment(name):
            first = next(_sentences(text), name)
            return Detection(f"attachment:{name}", _excerpt(first), _language_of(text or name))
    return None
