"""A throwaway Courier-IMAP 5.0 (plain IMAP on 127.0.0.1) for interoperability tests.

``courier-imap``/``courier-base`` conflict with dovecot-imapd, so ``couriertcpd``,
``imaplogin`` and ``imapd`` come from the unpacked packages under ``DEB_ROOT``;
authentication goes through the installed courier-authdaemon with the userdb module.
authlib's paths are compiled in (``/etc/courier/authdaemonrc``, ``/etc/courier/userdb``,
``/run/courier/authdaemon/socket``), so this module writes its users to its own file
``/etc/courier/userdb/rw-test-*`` (removed on close), and starts authdaemond only when
none answers (scripts/test.sh sets ``authmodulelist="authuserdb"``).

One server is one couriertcpd; ``enhanced_idle`` picks ``IMAP_ENHANCEDIDLE`` (push via
gamin) or Courier's default (IDLE notices new mail only on a 60 s poll). Courier has no
SPECIAL-USE and its only personal namespace is ``INBOX.``: folders are ``INBOX.Sent``.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.servers.cyrus import (
    DEB_ROOT,
    PlainImapSessions,
    ServerUnavailable,
    _fast_dir,
    _need,
    _stop_group,
    greets,
)
from tests.servers.dovecot import HOST, MailUser, _die_with_parent, _free_port

__all__ = ["Courier"]

_AUTHDAEMOND = "/usr/lib/courier/courier-authlib/authdaemond"
_AUTH_SOCKET = Path("/run/courier/authdaemon/socket")
_USERDB_DIR = Path("/etc/courier/userdb")
_SPARE_USERS = 80
_START_TIMEOUT_S = 10.0
_FOLDERS = ("Sent", "Drafts", "Archive", "Trash")


def _auth_answers() -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(str(_AUTH_SOCKET))
            return True
    except OSError:
        return False


class Courier(PlainImapSessions):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.prefix, self.sep = "INBOX.", "."
        self._tcpd = _need(DEB_ROOT / "courier-base/usr/sbin/couriertcpd", "courier-base deb")
        self._login = _need(
            DEB_ROOT / "courier-imap/usr/lib/courier/courier/imaplogin", "courier-imap deb"
        )
        self._imapd = _need(DEB_ROOT / "courier-imap/usr/bin/imapd", "courier-imap deb")
        self._makeuserdb = _need(
            shutil.which("makeuserdb"), "apt-get install courier-authlib-userdb"
        )
        _need(_AUTHDAEMOND, "apt-get install courier-authdaemon")
        if os.geteuid() != 0:
            raise ServerUnavailable("the Courier fixture writes /etc/courier/userdb: run as root")
        self.mail_uid = pwd.getpwnam("nobody").pw_uid
        self.mail_gid = grp.getgrnam("nogroup").gr_gid
        self._userdb = _USERDB_DIR / f"rw-test-{os.getpid()}-{root.name}"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._auth: subprocess.Popen[bytes] | None = None
        self.ports: dict[bool, int] = {}
        root.chmod(0o755)
        (root / "home").mkdir()
        self._spare = [self._new_user(n) for n in range(_SPARE_USERS)]

    @classmethod
    def start_new(cls) -> Courier:
        root = Path(tempfile.mkdtemp(prefix="rw-courier-", dir=_fast_dir()))
        try:
            server = cls(root)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        try:
            server.start()
        except BaseException:
            server.close()
            raise
        return server

    @property
    def imap_port(self) -> int:
        """The port with enhanced IDLE (instant push)."""
        return self.ports[True]

    @property
    def slow_idle_port(self) -> int:
        """Courier's default: IDLE reports new mail only after its 60 s poll."""
        return self.ports[False]

    def folder(self, logical: str) -> str:
        return logical if logical.upper() == "INBOX" else self.prefix + logical

    def _new_user(self, n: int) -> MailUser:
        return MailUser(f"co{n}x{os.getpid()}{self.root.name[-6:]}".lower(), os.urandom(9).hex())

    def _write_userdb(self) -> None:
        hashes = subprocess.run(
            ["openssl", "passwd", "-6", "-stdin"],
            input="".join(u.password + "\n" for u in self._spare).encode(),
            check=True, capture_output=True,
        ).stdout.decode().split()  # fmt: skip
        lines = [
            f"{u.name}\tuid={self.mail_uid}|gid={self.mail_gid}|home={self.root}/home/{u.name}"
            f"|mail={self.root}/home/{u.name}/Maildir|systempw={h}\n"
            for u, h in zip(self._spare, hashes, strict=True)
        ]
        _USERDB_DIR.mkdir(mode=0o700, exist_ok=True)
        for stale in _USERDB_DIR.glob("rw-test-*"):  # left by a test session that was killed
            with contextlib.suppress(ValueError, OSError):
                pid = int(stale.name.split("-")[2])
                if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
                    stale.unlink()
        fd = os.open(self._userdb, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("".join(lines))
        subprocess.run([self._makeuserdb], check=True, capture_output=True)

    def start(self) -> None:
        self._write_userdb()
        if not _auth_answers():
            _AUTH_SOCKET.unlink(missing_ok=True)  # left by a killed authdaemond
            self._auth = subprocess.Popen(
                [_AUTHDAEMOND], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=(self.root / "authdaemond.log").open("ab"), start_new_session=True,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        for enhanced in (True, False):
            self.ports[enhanced] = self._serve(enhanced)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not (_auth_answers() and all(greets(p) for p in self.ports.values())):
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"courier did not answer: {self.log()}")
            if any(p.poll() is not None for p in self._procs):
                raise ServerUnavailable(f"couriertcpd exited: {self.log()}")
            time.sleep(0.05)

    def _serve(self, enhanced: bool) -> int:
        port = _free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "IMAP_CAPABILITY": "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
            "THREAD=REFERENCES SORT QUOTA IDLE",
            "IMAP_KEYWORDS": "1",
            "IMAP_IDLE_TIMEOUT": "60",
            "IMAP_ENHANCEDIDLE": "1" if enhanced else "0",
            "IMAP_USELOCKS": "1",
            "IMAP_UMASK": "022",
            "IMAP_MAILBOX_SANITY_CHECK": "1",
            "IMAP_TRASHFOLDERNAME": "Trash",
            "MAILDIRPATH": "Maildir",
            "HEADERFROM": "X-IMAP-Sender",
        }
        log = self.root / f"couriertcpd-{port}.log"
        args = [self._tcpd, f"-address={HOST}", "-nodnslookup", "-noidentlookup",
                f"-stderr={log}", str(port), self._login, self._imapd, "Maildir"]  # fmt: skip
        proc = subprocess.Popen(
            args, env=env, cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log.open("ab"), start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self._procs.append(proc)
        return port

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in self.root.glob("*.log"))

    def close(self) -> None:
        try:
            # Throwaway servers: a short grace, then SIGKILL (authdaemond alone lingers 2 s).
            for proc in self._procs:
                _stop_group(proc, timeout=0.3)
            if self._auth is not None:
                _stop_group(self._auth, timeout=0.3)
                _AUTH_SOCKET.unlink(missing_ok=True)
        finally:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._userdb.unlink(missing_ok=True)
                subprocess.run([self._makeuserdb], check=False, capture_output=True)
            shutil.rmtree(self.root, ignore_errors=True)

    # -- users and mail -------------------------------------------------------------------

    def add_user(self, *, folders: Sequence[str] = _FOLDERS) -> MailUser:
        """A pre-registered user (authdaemond caches userdb) with a fresh Maildir."""
        if not self._spare:
            raise ServerUnavailable(f"more than {_SPARE_USERS} Courier users in one session")
        user = self._spare.pop()
        maildir = self.root / "home" / user.name / "Maildir"
        for box in [maildir] + [maildir / f".{name}" for name in folders]:
            for sub in ("cur", "new", "tmp"):
                (box / sub).mkdir(parents=True, exist_ok=True)
            if box != maildir:
                (box / "maildirfolder").touch()
        for path in [maildir.parent, *maildir.parent.rglob("*")]:
            os.chown(path, self.mail_uid, self.mail_gid)
        return user

    def recreate_folder(self, user: MailUser, folder: str) -> None:
        with self.session(user) as c:
            c.delete_folder(self.folder(folder))
            c.create_folder(self.folder(folder))
