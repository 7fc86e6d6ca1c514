"""Sent discovery and the "is my mail read?" check on real mail (../shared/corpora/real/enron).

Each Enron user's exported folders (``inbox``, ``sent_items``, and ``sent`` for the
Notes-era users) go into a fresh Courier mailbox under their own names
(``INBOX.sent_items``): no SPECIAL-USE, so only the name rules can find them. Prints, per
user: the folders ``folders = "auto"`` picks, whether ``check``'s sample finds mail from
the user, and the same for a mailbox holding only the inbox (where ``check`` must fail).
Usage: python tests/benchmarks/real_sent_discovery.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.adapters.imap import ImapAccount, ImapMailSource  # noqa: E402
from responsewatch.app.sent_check import reads_my_mail, sample_from_me  # noqa: E402
from tests.corpus.test_parsing_corpus import ENRON  # noqa: E402
from tests.servers.courier import Courier  # noqa: E402
from tests.servers.dovecot import HOST, MailUser  # noqa: E402
from tests.support.enron import CORPUS, messages  # noqa: E402


def probe(server: Courier, user: MailUser, me: str) -> tuple[str, bool | None]:
    password = user.password
    src = ImapMailSource(
        ImapAccount("enron", HOST, server.imap_port, "none-loopback-only", user.name,
                    lambda: password, timeout=60)
    )  # fmt: skip
    try:
        folders = src.folders()
        counts = sample_from_me(src, folders, frozenset({me}))
        shown = ", ".join(
            f"{f.name} ({f.role}) {counts[f.name][1]}/{counts[f.name][0]}" for f in folders
        )
        return shown, reads_my_mail(counts)
    finally:
        src.close()


def main() -> None:
    server = Courier.start_new()
    try:
        print("user: folders auto reads (role) mine/sampled -> check passes | inbox only")
        for name, me in sorted(ENRON.items()):
            boxes = {p.name.removesuffix(".mbox.gz"): p for p in (CORPUS / name).glob("*.gz")}
            full, bare = server.add_user(folders=()), server.add_user(folders=())
            with server.session(full) as c:
                for box in boxes:
                    if box != "inbox":
                        c.create_folder(f"INBOX.{box}")
            for box, path in boxes.items():
                mail = messages(path)
                server.append_many(full, "INBOX" if box == "inbox" else box, mail)
                if box == "inbox":
                    server.append_many(bare, "INBOX", mail)
            read, found = probe(server, full, me)
            bare_read, bare_found = probe(server, bare, me)
            print(f"{name}: {read} -> {found} | {bare_read} -> {bare_found}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
