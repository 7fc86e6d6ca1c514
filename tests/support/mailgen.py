"""Deterministic generator of a consultant's mailbox (INBOX + Sent) for tests, benchmarks
and the bundled demo sample. Realistic shape: multi-message client turns, replies in and
out of hours, late replies, thanks-only notes, forwards, CC-only mail, newsletters and
notifications from client domains, out-of-office replies, a missing Message-ID, an
undated message, French and English subjects with "RE :" style prefixes.
"""

from __future__ import annotations

import mailbox
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ME = "claire@martin-conseil.fr"
PARIS = ZoneInfo("Europe/Paris")

CLIENTS: dict[str, list[str]] = {
    "acme.fr": ["jean.dupont@acme.fr", "sophie.bernard@acme.fr", "dg@acme.fr"],
    "bolt-industries.com": ["mike.ross@bolt-industries.com", "anna.k@bolt-industries.com"],
    "celsius-energie.fr": ["l.moreau@celsius-energie.fr"],
    "gmail.com": ["paul.dune@gmail.com"],
}
SUBJECTS = [
    "Point d'avancement mission",
    "Devis phase 2",
    "Compte rendu comité de pilotage",
    "Question sur le livrable",
    "Planning du mois",
    "Contrat cadre",
    "Atelier de cadrage",
    "Budget 2027",
    "Recrutement chef de projet",
    "Quarterly review",
    "Data migration plan",
    "Steering committee minutes",
    "Facture octobre",
    "Accès VPN",
    "Organisation séminaire",
]
BODIES = [
    "Bonjour Claire,\n\nPouvez-vous me faire un retour sur le document ci-joint ?\n\n"
    "Cordialement,\n",
    "Hello Claire,\n\nCould you send us the updated planning before Friday?\n\nBest regards\n",
    "Bonjour,\n\nJe vous transmets les éléments demandés. Dites-moi si quelque chose manque.\n",
    "Claire,\n\nOn a un souci sur le périmètre du lot 2, peux-tu m'appeler ?\n",
    "Bonjour Claire,\n\nLe comité a des questions sur le budget. Quand pouvons-nous en parler ?\n",
]
REPLY_PREFIXES = ["RE: ", "Re: ", "RE : ", "Réf. : ", "AW: "]
THANKS = ["Merci !", "Parfait, merci.", "Thanks!", "Bien reçu, merci.", "Super, top."]


@dataclass(frozen=True, slots=True)
class GenMessage:
    folder: str  # "INBOX" | "Sent"
    data: bytes
    internaldate: datetime  # aware


def _fmt_id(n: int, domain: str) -> str:
    return f"<{n:08d}.{abs(hash(domain)) % 9973}@{domain}>"


class _Builder:
    def __init__(self, seed: int, id_prefix: str = "gen") -> None:
        self.rng = random.Random(seed)
        self.counter = 0
        self.id_prefix = id_prefix
        self.out: list[GenMessage] = []

    def next_id(self, domain: str) -> str:
        self.counter += 1
        return f"<{self.id_prefix}{self.counter:07d}.{self.rng.randrange(10**6):06d}@{domain}>"

    def emit(
        self,
        *,
        folder: str,
        sender: str,
        to: Sequence[str],
        cc: Sequence[str] = (),
        subject: str,
        when: datetime,
        body: str,
        msgid: str | None,
        refs: Sequence[str] = (),
        extra: Sequence[tuple[str, str]] = (),
        arrival_delay: timedelta = timedelta(seconds=40),
        dated: bool = True,
    ) -> None:
        lines: list[str] = []
        arrival = when + arrival_delay
        if folder == "INBOX":
            lines.append(
                "Received: from mx.martin-conseil.fr (mx.martin-conseil.fr [192.0.2.10])\n"
                "\tby imap.martin-conseil.fr with LMTP; "
                + format_datetime(arrival.astimezone(PARIS))
            )
        lines.append(f"From: {sender}")
        lines.append(f"To: {', '.join(to)}")
        if cc:
            lines.append(f"Cc: {', '.join(cc)}")
        lines.append(f"Subject: {subject}")
        if dated:
            lines.append(f"Date: {format_datetime(when.astimezone(PARIS))}")
        if msgid:
            lines.append(f"Message-ID: {msgid}")
        if refs:
            lines.append(f"In-Reply-To: {refs[-1]}")
            lines.append("References: " + "\n ".join(refs))
        lines.extend(f"{k}: {v}" for k, v in extra)
        lines.append("MIME-Version: 1.0")
        lines.append("Content-Type: text/plain; charset=utf-8")
        lines.append("Content-Transfer-Encoding: 8bit")
        text = "\n".join(lines) + "\n\n" + body
        self.out.append(
            GenMessage(folder, text.encode("utf-8"), arrival if folder == "INBOX" else when)
        )


def _business_moment(rng: random.Random, day: datetime) -> datetime:
    local = datetime(
        day.year,
        day.month,
        day.day,
        rng.randint(8, 18),
        rng.randint(0, 59),
        rng.randint(0, 59),
        tzinfo=PARIS,
    )
    return local.astimezone(UTC)


def generate(
    conversations: int,
    *,
    seed: int = 7,
    start: datetime = datetime(2026, 9, 1, tzinfo=UTC),
    span_days: int = 80,
    noise: bool = True,
    id_prefix: str = "gen",
    first_index: int = 0,
    bare_reply_rate: float = 0.0,
) -> list[GenMessage]:
    """About 4.5 messages per conversation plus noise (newsletters, notifications...).

    Several calls make one bigger mailbox when each has its own ``id_prefix`` and
    ``first_index`` (subjects are numbered from it). ``bare_reply_rate``: the share of my
    replies sent without In-Reply-To/References (a phone or webmail client), which only
    the subject fallback threads; 0 leaves the output exactly as before."""
    b = _Builder(seed, id_prefix)
    rng = b.rng
    domains = list(CLIENTS)
    for index in range(conversations):
        domain = rng.choice(domains)
        people = CLIENTS[domain]
        contact = rng.choice(people)
        day = start + timedelta(days=rng.randrange(span_days))
        t = _business_moment(rng, day)
        number = first_index + index
        base = rng.choice(SUBJECTS) + (f" #{number}" if conversations > len(SUBJECTS) else "")
        refs: list[str] = []
        rounds = rng.choice([1, 1, 2, 2, 3])
        for round_no in range(rounds):
            # The client's turn: one to three messages before my reply.
            for extra in range(rng.choice([1, 1, 1, 2, 3])):
                mid = b.next_id(domain)
                subject = (
                    base if round_no == 0 and extra == 0 else rng.choice(REPLY_PREFIXES) + base
                )
                cc = [rng.choice(people)] if rng.random() < 0.2 else []
                b.emit(
                    folder="INBOX",
                    sender=contact,
                    to=[ME],
                    cc=cc,
                    subject=subject,
                    when=t,
                    body=rng.choice(BODIES),
                    msgid=mid,
                    refs=list(refs),
                )
                refs.append(mid)
                t += timedelta(minutes=rng.randint(5, 300))
            # Sometimes I have not answered yet (the last round only).
            if round_no == rounds - 1 and rng.random() < 0.12:
                break
            delay = rng.choice(
                [
                    timedelta(minutes=rng.randint(10, 240)),
                    timedelta(hours=rng.randint(3, 20)),
                    timedelta(hours=rng.randint(20, 60)),
                ]
            )
            t += delay
            mid = b.next_id("martin-conseil.fr")
            bare = bare_reply_rate > 0 and rng.random() < bare_reply_rate
            b.emit(
                folder="Sent",
                sender=ME,
                to=[contact],
                subject="RE: " + base,
                when=t,
                body="Bonjour,\n\nVoici ma réponse.\n\nClaire\n",
                msgid=mid,
                refs=[] if bare else list(refs),
            )
            refs.append(mid)
            t += timedelta(hours=rng.randint(1, 50))
            if rng.random() < 0.3:
                mid = b.next_id(domain)
                b.emit(
                    folder="INBOX",
                    sender=contact,
                    to=[ME],
                    subject="RE: " + base,
                    when=t,
                    body=rng.choice(THANKS) + "\n\n> Voici ma réponse.\n",
                    msgid=mid,
                    refs=list(refs),
                )
                refs.append(mid)
                t += timedelta(hours=rng.randint(1, 30))
        if rng.random() < 0.08:
            # I forward the thread to a colleague at the client: no reply, but my turn.
            b.emit(
                folder="Sent",
                sender=ME,
                to=[rng.choice(people)],
                subject="TR: " + base,
                when=t,
                body="Pour info.\n",
                msgid=b.next_id("martin-conseil.fr"),
                refs=list(refs),
            )
    if noise:
        for i in range(max(1, conversations // 10)):
            domain = rng.choice(domains)
            when = _business_moment(rng, start + timedelta(days=rng.randrange(span_days)))
            kind = i % 5
            if kind == 0:
                b.emit(
                    folder="INBOX",
                    sender=f"news@{domain}",
                    to=[ME],
                    subject="Newsletter de novembre",
                    when=when,
                    body="Nos actualités.\n",
                    msgid=b.next_id(domain),
                    extra=[("List-Unsubscribe", f"<mailto:unsub@{domain}>")],
                )
            elif kind == 1:
                b.emit(
                    folder="INBOX",
                    sender=f"noreply@{domain}",
                    to=[ME],
                    subject="Votre accès a été créé",
                    when=when,
                    body="Ceci est un message automatique.\n",
                    msgid=b.next_id(domain),
                )
            elif kind == 2:
                contact = rng.choice(CLIENTS[domain])
                b.emit(
                    folder="INBOX",
                    sender=contact,
                    to=[ME],
                    subject="Réponse automatique : absence",
                    when=when,
                    body="Je suis absent jusqu'au 12/11.\n",
                    msgid=b.next_id(domain),
                    extra=[("Auto-Submitted", "auto-replied")],
                )
            elif kind == 3:
                contact = rng.choice(CLIENTS[domain])
                b.emit(
                    folder="INBOX",
                    sender=contact,
                    to=[f"team@{domain}"],
                    cc=[ME],
                    subject="Info équipe",
                    when=when,
                    body="Pour information.\n",
                    msgid=b.next_id(domain),
                )
            else:
                contact = rng.choice(CLIENTS[domain])
                b.emit(
                    folder="INBOX",
                    sender=contact,
                    to=[ME],
                    subject="Sans identifiant",
                    when=when,
                    body="Pouvez-vous regarder ?\n",
                    msgid=None,
                    dated=rng.random() < 0.5,
                )
    return b.out


def recent_requests(
    now: datetime, ages_hours: Sequence[float], *, seed: int = 11
) -> list[GenMessage]:
    """Client requests still waiting at ``now``: one per age, so a demo shows every state."""
    b = _Builder(seed)
    domains = list(CLIENTS)
    subjects = ["Validation du planning", "Question urgente sur le devis", "Relecture du rapport"]
    for i, age in enumerate(ages_hours):
        domain = domains[i % len(domains)]
        contact = CLIENTS[domain][0]
        b.emit(
            folder="INBOX",
            sender=contact,
            to=[ME],
            subject=subjects[i % len(subjects)],
            when=now - timedelta(hours=age),
            body=BODIES[i % len(BODIES)],
            msgid=b.next_id(domain),
        )
    return b.out


CADENCE_CONTACT = "marc.lefort@eiffel-logistique.fr"


def cadence_client(*, seed: int = 5) -> list[GenMessage]:
    """Eiffel, a client expecting a weekly update (mission from 2026-10-05): my updates,
    one gap of 12 days, then silence since 11 November while the client asks twice for a
    status meeting (answered: replies, not updates). As of the demo's now: "no update for
    9 days, due 2 days ago", two late gaps."""
    b = _Builder(seed)
    domain = "eiffel-logistique.fr"

    def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, month, day, hour, minute, tzinfo=UTC)

    kickoff = b.next_id(domain)
    b.emit(
        folder="INBOX",
        sender=CADENCE_CONTACT,
        to=[ME],
        subject="Lancement de la mission logistique",
        when=at(10, 5, 8, 30),
        body="Bonjour Claire,\n\nBienvenue ! Quand pouvez-vous commencer ?\n",
        msgid=kickoff,
    )
    b.emit(
        folder="Sent",
        sender=ME,
        to=[CADENCE_CONTACT],
        subject="RE: Lancement de la mission logistique",
        when=at(10, 5, 13, 0),
        body="Bonjour Marc,\n\nDès demain.\n\nClaire\n",
        msgid=b.next_id("martin-conseil.fr"),
        refs=[kickoff],
    )
    updates = [at(10, 8, 15), at(10, 14, 15), at(10, 26, 15), at(11, 2, 14), at(11, 5, 15)]
    updates.append(at(11, 11, 10))
    for week, when in enumerate(updates, start=1):
        mid = b.next_id("martin-conseil.fr")
        subject = f"Mission logistique : avancement, point n°{week}"
        b.emit(
            folder="Sent",
            sender=ME,
            to=[CADENCE_CONTACT],
            subject=subject,
            when=when,
            body="Bonjour Marc,\n\nFait : ...\nReste : ...\nProchaines étapes : ...\n",
            msgid=mid,
        )
        if week < len(updates):
            b.emit(
                folder="INBOX",
                sender=CADENCE_CONTACT,
                to=[ME],
                subject="RE: " + subject,
                when=when + timedelta(hours=2),
                body="Merci Claire, bien reçu.\n",
                msgid=b.next_id(domain),
                refs=[mid],
            )
    for when in (at(11, 13, 9), at(11, 17, 9)):
        ask = b.next_id(domain)
        b.emit(
            folder="INBOX",
            sender=CADENCE_CONTACT,
            to=[ME],
            subject="Où en est-on ? Point d'avancement à caler",
            when=when,
            body="Bonjour Claire,\n\nPouvons-nous faire un point cette semaine ?\n",
            msgid=ask,
        )
        b.emit(
            folder="Sent",
            sender=ME,
            to=[CADENCE_CONTACT],
            subject="RE: Où en est-on ? Point d'avancement à caler",
            when=when + timedelta(hours=3),
            body="Bonjour Marc,\n\nOui, jeudi 10h ?\n\nClaire\n",
            msgid=b.next_id("martin-conseil.fr"),
            refs=[ask],
        )
    return b.out


def write_mbox(messages: Iterable[GenMessage], path: Path) -> None:
    box = mailbox.mbox(str(path), create=True)
    box.lock()
    try:
        for msg in messages:
            box.add(mailbox.mboxMessage(msg.data))
        box.flush()
    finally:
        box.unlock()
        box.close()


def write_maildir(messages: Iterable[GenMessage], root: Path, *, first: int = 0) -> int:
    """INBOX in ``root``, Sent in ``root/.Sent`` (Maildir++). File mtimes = internaldate.
    File names are numbered from ``first + 1`` (so several calls fill one Maildir)."""
    count = first
    for sub in ("", ".Sent"):
        for leaf in ("cur", "new", "tmp"):
            (root / sub / leaf).mkdir(parents=True, exist_ok=True)
    for msg in messages:
        folder = root if msg.folder == "INBOX" else root / ".Sent"
        count += 1
        name = folder / "cur" / f"{1700000000 + count}.M{count}P1.gen:2,S"
        name.write_bytes(msg.data)
        stamp = msg.internaldate.timestamp()
        os.utime(name, (stamp, stamp))
    return count - first
