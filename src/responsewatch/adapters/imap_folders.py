"""Which IMAP folders hold the user's mail: roles from SPECIAL-USE, else the usual names.

Reading INBOX alone gives a confident, wrong answer (every client message looks
unanswered), so discovery tries hard: ``LIST "" "*" RETURN (SPECIAL-USE)`` when the server
offers SPECIAL-USE (Cyrus with ``specialusealways: 0`` shows roles only then), and for a
role no folder carries, the names mail clients create under the personal namespace
(Courier's ``INBOX.``), in the languages our users write in. Folder names arrive decoded
from modified UTF-7 (imapclient), so ``Éléments envoyés`` is compared as text.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ServerFolder",
    "closest_folders",
    "discover_roles",
    "list_server_folders",
    "personal_prefix",
    "role_by_name",
]

_ROLE_FLAGS = ((b"\\sent", "sent"), (b"\\all", "all"), (b"\\archive", "archive"))
# Compared casefolded and NFC-normalised, relative to the personal namespace prefix or
# as the full name (Gmail's folders sit outside the prefix-less namespace's top level).
_NAMES: dict[str, tuple[str, ...]] = {
    "sent": (
        "Sent",
        "Sent Items",
        "Sent Messages",
        "Sent Mail",
        "Sent Mail Items",
        "Éléments envoyés",
        "Envoyés",
        "Messages envoyés",
        "Courrier envoyé",
        "Gesendet",
        "Gesendete Objekte",
        "Gesendete Elemente",
        "Gesendete Nachrichten",
        "Enviados",
        "Elementos enviados",
        "Mensajes enviados",
        "Itens enviados",
        "Posta inviata",
        "Inviati",
        "Elementi inviati",
        "Verzonden",
        "Verzonden items",
        "Skickat",
        "Skickade objekt",
        "Sendt",
        "Sendte elementer",
        "Lähetetyt",
        "Wysłane",
        "Odeslané",
        "Отправленные",
        "INBOX.Sent",
        "INBOX/Sent",
        "INBOX.Sent Items",
        "INBOX.Sent Messages",
        "[Gmail]/Sent Mail",
        "[Google Mail]/Sent Mail",
        "[Gmail]/Messages envoyés",
        "[Gmail]/Gesendet",
    ),
    "archive": (
        "Archive",
        "Archives",
        "Archiv",
        "Archivio",
        "Archivo",
        "Arquivo",
        "Archief",
        "Arkiv",
        "Archiwum",
        "Архив",
        "INBOX.Archive",
        "INBOX/Archive",
        "INBOX.Archives",
    ),
    "all": (
        "All Mail",
        "[Gmail]/All Mail",
        "[Google Mail]/All Mail",
        "[Gmail]/Tous les messages",
        "[Gmail]/Alle Nachrichten",
    ),
}


def _key(name: str) -> str:
    # "sent_items", "_sent_mail", "Sent-Mail": exports and old clients spell spaces so.
    text = unicodedata.normalize("NFC", name).casefold().replace("_", " ").replace("-", " ")
    return " ".join(text.split())


_BY_NAME = {_key(n): role for role, names in _NAMES.items() for n in names}


@dataclass(frozen=True, slots=True)
class ServerFolder:
    name: str
    flags: frozenset[bytes]  # lower-cased: b"\\sent", b"\\noselect", ...

    @property
    def selectable(self) -> bool:
        return b"\\noselect" not in self.flags and b"\\nonexistent" not in self.flags


def _as_text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def list_server_folders(client: Any, caps: frozenset[bytes]) -> list[ServerFolder]:
    """Every folder with its flags; with SPECIAL-USE, asks for the roles explicitly."""
    if b"SPECIAL-USE" in caps:
        imap = client._imap
        typ, data = imap._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
        if typ == "OK":
            typ, data = imap._untagged_response(typ, data, "LIST")
            listing = client._proc_folder_list(data)
        else:  # a server advertising what it does not accept: plain LIST still lists
            listing = client.list_folders()
    else:
        listing = client.list_folders()
    seen: dict[str, ServerFolder] = {}
    for flags, _delim, name in listing:
        text = _as_text(name)
        lowered = frozenset(f.lower() for f in flags if isinstance(f, bytes))
        seen[text] = ServerFolder(text, lowered | seen[text].flags if text in seen else lowered)
    return list(seen.values())


def personal_prefix(client: Any, caps: frozenset[bytes]) -> str:
    """The personal NAMESPACE prefix (``INBOX.`` on Courier and Debian's Cyrus), or ""."""
    if b"NAMESPACE" not in caps:
        return ""
    personal = client.namespace().personal
    if not personal:
        return ""
    return _as_text(personal[0][0])


def _relative(name: str, prefix: str) -> str:
    if prefix and _key(name).startswith(_key(prefix)):
        return name[len(prefix) :]
    return name


def role_by_name(name: str, prefix: str) -> str:
    """``INBOX.Sent`` under ``INBOX.`` -> "sent"; "" when the name is not a usual one."""
    return _BY_NAME.get(_key(_relative(name, prefix))) or _BY_NAME.get(_key(name), "")


def discover_roles(folders: Iterable[ServerFolder], prefix: str) -> list[tuple[str, str]]:
    """(name, role) of INBOX and every folder to read, roles from flags first.

    A role no folder is flagged with is looked for by name; several name matches are all
    read (messages found twice are stored once, by Message-ID).
    """
    usable = [f for f in folders if f.selectable and f.name.upper() != "INBOX"]
    out: list[tuple[str, str]] = [("INBOX", "inbox")]
    flagged: set[str] = set()
    for f in usable:
        role = next((r for flag, r in _ROLE_FLAGS if flag in f.flags), "")
        if role:
            out.append((f.name, role))
            flagged.add(role)
    for f in usable:
        role = role_by_name(f.name, prefix)
        if role and role not in flagged and (f.name, role) not in out:
            out.append((f.name, role))
    return out


def closest_folders(wanted: str, names: Sequence[str], n: int = 3) -> list[str]:
    """Server folders that look like ``wanted`` ("Sent" -> ["INBOX.Sent"]), best first."""
    want = _key(wanted)
    scored = []
    for name in names:
        whole = _key(name)
        tail = _key(name.replace("/", ".").rsplit(".", 1)[-1])
        score = max(
            difflib.SequenceMatcher(None, want, whole).ratio(),
            difflib.SequenceMatcher(None, want, tail).ratio(),
        )
        if score >= 0.6:
            scored.append((-score, name))
    return [name for _score, name in sorted(scored)[:n]]
