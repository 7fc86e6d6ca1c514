"""A throwaway Dovecot (IMAP + IMAPS on 127.0.0.1) for tests and benchmarks.

Recipe: ../shared/notes/test-servers.md. Everything lives under one temporary root made
with ``tempfile.mkdtemp`` (not pytest's 0700 tmp dirs, which the unprivileged mail user
could not traverse). Failure to start raises ``DovecotUnavailable``: tests FAIL, never skip.

    server = Dovecot.start_new()
    user = server.add_user()
    server.append(user, "INBOX", b"Subject: hi\\r\\n\\r\\nbody", datetime(2026, 1, 5, tzinfo=UTC))
    ...
    server.close()
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

__all__ = ["Dovecot", "DovecotUnavailable", "MailUser"]

HOST = "127.0.0.1"
_START_TIMEOUT_S = 10.0
_SPARE_USERS = 300
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")
_names = itertools.count(1)


class DovecotUnavailable(RuntimeError):
    """Dovecot is not installed or did not start: the test must fail, not skip."""


@dataclass(frozen=True, slots=True)
class MailUser:
    name: str
    password: str


def _find_binary() -> str:
    found = shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        raise DovecotUnavailable(
            "dovecot is not installed: apt-get install -y dovecot-core dovecot-imapd "
            "(see ../shared/notes/test-servers.md); IMAP tests cannot run without it"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the master gets SIGTERM if pytest dies, so no orphan keeps the port.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class Dovecot:
    """One Dovecot master process (and its process group) serving users under ``root``."""

    def __init__(self, root: Path) -> None:
        self.binary = _find_binary()
        self.root = root
        self.imap_port = _free_port()
        self.imaps_port = _free_port()
        self.cert_path = root / "cert.pem"
        self._proc: subprocess.Popen[bytes] | None = None
        self._as_root = os.geteuid() == 0
        if self._as_root:
            # Dovecot refuses to touch mail as uid 0 and imap-login refuses to run as root.
            self.mail_uid = pwd.getpwnam("nobody").pw_uid
            self.mail_gid = grp.getgrnam("nogroup").gr_gid
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
        self._write_layout()

    @classmethod
    def start_new(cls) -> Dovecot:
        root = Path(tempfile.mkdtemp(prefix="rw-dovecot-"))
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

    # -- layout ---------------------------------------------------------------------------

    def _write_layout(self) -> None:
        root = self.root
        root.chmod(0o755)
        for sub in ("run", "state", "home"):
            (root / sub).mkdir(exist_ok=True)
        os.chown(root / "home", self.mail_uid, self.mail_gid)
        self._spare_users = [self._new_user() for _ in range(_SPARE_USERS)]
        users = root / "users"
        users.write_text("".join(f"{u.name}:{u.password}::::::\n" for u in self._spare_users))
        users.chmod(0o644)
        self._make_cert()
        if self._as_root:
            internal_user, internal_group, login_user = "dovecot", "dovecot", "dovenull"
            mail_user, mail_group = "nobody", "nogroup"
        else:
            me = pwd.getpwuid(os.getuid()).pw_name
            my_group = grp.getgrgid(os.getgid()).gr_name
            internal_user, internal_group, login_user = me, my_group, me
            mail_user, mail_group = me, my_group
        boxes = "\n".join(
            f"  mailbox {name} {{\n    special_use = \\{use}\n    auto = subscribe\n  }}"
            for name, use in (
                ("Sent", "Sent"),
                ("Drafts", "Drafts"),
                ("Archive", "Archive"),
                ("Junk", "Junk"),
                ("Trash", "Trash"),
            )
        )
        (root / "dovecot.conf").write_text(
            f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0  # tests of wrong passwords need not wait 2 s
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = home={root}/home/%u
}}
mail_uid = {mail_user}
mail_gid = {mail_group}
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 100
namespace inbox {{
  inbox = yes
  separator = /
{boxes}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0  # no growing delay after the wrong-password tests
  }}
}}
"""
        )

    def _make_cert(self) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise DovecotUnavailable("openssl is not installed: needed for the test certificate")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(self.root / "key.pem"), "-out", str(self.cert_path)],
            check=True, capture_output=True,
        )  # fmt: skip

    # -- process --------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = _START_TIMEOUT_S) -> None:
        if self.running():
            return
        self._proc = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "stderr.log").open("ab"),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise DovecotUnavailable(
                    f"dovecot exited with code {self._proc.returncode} at start:\n{self.log()}"
                )
            if self._greets():
                return
            time.sleep(0.05)
        self.kill()
        raise DovecotUnavailable(f"dovecot did not answer within {timeout} s:\n{self.log()}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection((HOST, self.imap_port), timeout=1) as s:
                return s.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful stop: SIGTERM the master, then the group (open sessions survive the master)."""
        if self._proc is None:
            return
        pid = self._proc.pid
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout)
        self._signal_group(pid, signal.SIGTERM)
        self._wait_group_gone(pid, timeout)
        self._signal_group(pid, signal.SIGKILL)
        self._reap()

    def kill(self) -> None:
        """Hard crash: SIGKILL the whole process group, as a dying host would."""
        if self._proc is None:
            return
        # Killed processes close their sockets at once; their reaping (by init) may lag.
        self._signal_group(self._proc.pid, signal.SIGKILL)
        self._reap()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server fast (whole group at once) and delete its files."""
        try:
            if self._proc is not None:
                self._signal_group(self._proc.pid, signal.SIGTERM)
                self._wait_group_gone(self._proc.pid, 5.0)
                self._signal_group(self._proc.pid, signal.SIGKILL)
                self._reap()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5.0)
            self._proc = None

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def _wait_group_gone(self, pgid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                self._proc.poll()  # reap the master, or its zombie keeps the group alive
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.02)

    def log(self) -> str:
        parts = []
        for name in ("dovecot.log", "stderr.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    # -- TLS ------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only this server's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))

    # -- users and mail -------------------------------------------------------------------

    def add_user(self) -> MailUser:
        """A fresh user with an empty mailbox.

        Dovecot re-reads passwd-file at most once a second, so a user written after the
        server started may be refused for up to a second: hand out pre-written ones first.
        """
        if self._spare_users:
            return self._spare_users.pop()
        user = self._new_user()
        with (self.root / "users").open("a") as f:
            f.write(f"{user.name}:{user.password}::::::\n")
        time.sleep(1.1)
        return user

    @staticmethod
    def _new_user() -> MailUser:
        return MailUser(f"u{next(_names)}-{secrets.token_hex(3)}", secrets.token_hex(12))

    @contextlib.contextmanager
    def session(self, user: MailUser, *, timeout: float = 10.0) -> Iterator[IMAPClient]:
        """A read-write admin connection (plain IMAP on loopback) for setting up mailboxes."""
        client = IMAPClient(HOST, self.imap_port, ssl=False, timeout=timeout)
        try:
            client.login(user.name, user.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(
        self,
        user: MailUser,
        folder: str,
        data: bytes,
        when: datetime,
        flags: Sequence[str] = (),
    ) -> int:
        """APPEND one message with INTERNALDATE ``when``; returns its UID (UIDPLUS)."""
        return self.append_many(user, folder, [(data, when, flags)])[0]

    def append_many(
        self,
        user: MailUser,
        folder: str,
        messages: Iterable[tuple[bytes, datetime, Sequence[str]]],
    ) -> list[int]:
        uids = []
        with self.session(user) as c:
            for data, when, flags in messages:
                resp = c.append(folder, data, flags=tuple(flags), msg_time=when)
                match = _APPENDUID.search(resp)
                if match is None:
                    raise AssertionError(f"no APPENDUID in {resp!r}")
                uids.append(int(match.group(1)))
        return uids

    def recreate_folder(self, user: MailUser, folder: str) -> None:
        """DELETE + CREATE: Dovecot always gives the new mailbox a new UIDVALIDITY."""
        with self.session(user) as c:
            c.delete_folder(folder)
            c.create_folder(folder)
            c.subscribe_folder(folder)

    def maildir_path(self, user: MailUser, folder: str = "INBOX") -> Path:
        base = self.root / "home" / user.name / "Maildir"
        return base if folder.upper() == "INBOX" else base / ("." + folder.replace("/", "."))

    def write_maildir(
        self,
        user: MailUser,
        messages: Iterable[tuple[bytes, datetime]],
        folder: str = "INBOX",
        flags: str = "S",
    ) -> int:
        """Write messages straight into ``Maildir/cur`` (fast path for 100k-message benchmarks).

        The file mtime becomes the INTERNALDATE; Dovecot indexes the files on the next SELECT.
        """
        home = self.root / "home" / user.name
        box = self.maildir_path(user, folder)
        dirs = [home, home / "Maildir", box] + [box / d for d in ("cur", "new", "tmp")]
        for d in dirs:
            d.mkdir(exist_ok=True)
            os.chown(d, self.mail_uid, self.mail_gid)
        cur = box / "cur"
        pid = os.getpid()
        n = 0
        for n, (data, when) in enumerate(messages, start=1):
            ts = when.timestamp()
            path = cur / f"{int(ts)}.M{n}P{pid}.rw,S={len(data)}:2,{flags}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, data)
                os.fchown(fd, self.mail_uid, self.mail_gid)
            finally:
                os.close(fd)
            os.utime(path, (ts, ts))
        return n
