"""A throwaway Cyrus IMAP 3.6 (plain IMAP on 127.0.0.1) for interoperability tests.

Debian's ``cyrus-imapd`` conflicts with dovecot-imapd, so the server binaries come from
the unpacked package (``dpkg-deb -x``, done by scripts/test.sh into ``DEB_ROOT``); the
helper packages (cyrus-common: cyrmaster, ctl_cyrusdb, idled; sasl2-bin: saslpasswd2)
are installed normally. Recipe: ../shared/notes/test-servers.md.

Two set-ups, as real hosts run them:
- ``debian``: ``INBOX.Sent`` with "." separator, roles shown by plain LIST;
- ``upstream``: ``altnamespace``/``unixhierarchysep`` (``Sent`` with "/") and
  ``specialusealways: 0``: roles only for ``LIST ... RETURN (SPECIAL-USE)``.
Failure to start raises ``ServerUnavailable``: tests FAIL, never skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

from tests.servers.dovecot import _APPENDUID, HOST, MailUser, _die_with_parent, _free_port

__all__ = ["DEB_ROOT", "Cyrus", "ServerUnavailable"]

DEB_ROOT = Path(os.environ.get("RW_TEST_DEBS", "/var/cache/responsewatch-test"))
_START_TIMEOUT_S = 15.0
_ROLES = (("Sent", "Sent"), ("Drafts", "Drafts"), ("Archive", "Archive"), ("Trash", "Trash"))
_counter = iter(range(1, 1 << 30))


def _fast_dir() -> str | None:
    """tmpfs when there is one: Cyrus and Courier fsync every APPEND (40-70 ms on disk)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class ServerUnavailable(RuntimeError):
    """The server is not installed or did not start: the test must fail, not skip."""


def _need(path: Path | str | None, hint: str) -> str:
    if path is None or not os.access(path, os.X_OK):
        raise ServerUnavailable(f"{path or hint} is missing: run scripts/test.sh ({hint})")
    return str(path)


def greets(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as s:
            return s.recv(64).startswith(b"* OK")
    except OSError:
        return False


class PlainImapSessions:
    """Plain-text IMAP sessions and APPENDs on loopback, shared by the Cyrus and Courier
    fixtures (each gives ``imap_port`` and maps logical folder names with ``folder``)."""

    imap_port: int

    def folder(self, logical: str) -> str:
        raise NotImplementedError

    @contextlib.contextmanager
    def session(self, user: MailUser, *, timeout: float = 10.0) -> Iterator[IMAPClient]:
        client = IMAPClient(HOST, self.imap_port, ssl=False, timeout=timeout)
        # APPEND sends its literal in two writes: without this, Nagle + delayed ACK cost
        # 40 ms per message.
        client._imap.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            client.login(user.name, user.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(
        self, user: MailUser, folder: str, data: bytes, when: datetime, flags: Sequence[str] = ()
    ) -> int:
        return self.append_many(user, folder, [(data, when, flags)])[0]

    def append_many(
        self, user: MailUser, folder: str, messages: Iterable[tuple[bytes, datetime, Sequence[str]]]
    ) -> list[int]:
        uids = []
        with self.session(user) as c:
            for data, when, flags in messages:
                resp = c.append(self.folder(folder), data, flags=tuple(flags), msg_time=when)
                match = _APPENDUID.search(resp)
                if match is None:
                    raise AssertionError(f"no APPENDUID in {resp!r}")
                uids.append(int(match.group(1)))
        return uids


class Cyrus(PlainImapSessions):
    """One ``cyrmaster`` (imapd + idled) under a temporary root."""

    def __init__(self, root: Path, layout: str) -> None:
        if layout not in ("debian", "upstream"):
            raise ValueError(layout)
        self.layout = layout
        self.root = root
        self.imap_port = _free_port()
        self.sep = "." if layout == "debian" else "/"
        self.prefix = "INBOX." if layout == "debian" else ""
        self._imapd = _need(DEB_ROOT / "cyrus-imapd/usr/lib/cyrus/bin/imapd", "cyrus-imapd deb")
        self._idled = _need(DEB_ROOT / "cyrus-imapd/usr/lib/cyrus/bin/idled", "cyrus-imapd deb")
        self._master = _need(shutil.which("cyrmaster"), "apt-get install cyrus-common")
        self._saslpasswd = _need(shutil.which("saslpasswd2"), "apt-get install sasl2-bin")
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_layout()

    @classmethod
    def start_new(cls, layout: str = "debian") -> Cyrus:
        root = Path(tempfile.mkdtemp(prefix=f"rw-cyrus-{layout}-", dir=_fast_dir()))
        try:
            server = cls(root, layout)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        try:
            server.start()
        except BaseException:
            server.close()
            raise
        return server

    def folder(self, logical: str) -> str:
        """``"Sent"`` -> this server's name for it (``INBOX.Sent`` or ``Sent``)."""
        return logical if logical.upper() == "INBOX" else self.prefix + logical

    def _write_layout(self) -> None:
        root = self.root
        root.chmod(0o755)
        conf = root / "conf"
        for sub in ("db", "socket", "proc", "log", "lock", "sieve", "ptclient"):
            (conf / sub).mkdir(parents=True, exist_ok=True)
        (root / "spool").mkdir()
        upstream = self.layout == "upstream"
        (root / "imapd.conf").write_text(
            f"""\
configdirectory: {conf}
partition-default: {root}/spool
defaultpartition: default
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {root}/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
autocreate_quota: 0
admins: cyrus
altnamespace: {"yes" if upstream else "no"}
unixhierarchysep: {"yes" if upstream else "no"}
specialusealways: {"0" if upstream else "1"}
specialuse_protect: \\Drafts
reject8bit: 0
munge8bit: 0
idlesocket: {conf}/socket/idle
lmtpsocket: {conf}/socket/lmtp
notifysocket: {conf}/socket/notify
mboxname_lockpath: {conf}/lock
proc_path: {conf}/proc
syslog_prefix: rw-cyrus
"""
        )
        # cyrmaster does not hand -C to its children: every command names the config.
        cfg = root / "imapd.conf"
        (root / "cyrus.conf").write_text(
            f"""\
START {{
  recover cmd="ctl_cyrusdb -C {cfg} -r"
}}
SERVICES {{
  imap cmd="{self._imapd} -C {cfg}" listen="{HOST}:{self.imap_port}" prefork=1
}}
EVENTS {{
}}
DAEMON {{
  idled cmd="{self._idled} -C {cfg}"
}}
"""
        )
        self._sasl("cyrus-admin-unused", "x")  # creates the db file
        if os.geteuid() == 0:
            # cyrmaster started as root drops to the cyrus user: it must own its files.
            cyrus = pwd.getpwnam("cyrus")
            for path in [conf, root / "spool", root / "sasldb2", *conf.iterdir()]:
                os.chown(path, cyrus.pw_uid, cyrus.pw_gid)

    def _sasl(self, name: str, password: str) -> None:
        subprocess.run(
            [self._saslpasswd, "-c", "-p", "-f", str(self.root / "sasldb2"), name],
            input=password.encode() + b"\n", check=True, capture_output=True,
        )  # fmt: skip

    # -- process --------------------------------------------------------------------------

    def start(self, timeout: float = _START_TIMEOUT_S) -> None:
        self._proc = subprocess.Popen(
            [self._master, "-C", str(self.root / "imapd.conf"), "-M",
             str(self.root / "cyrus.conf"), "-D", "-p", str(self.root / "master.pid")],
            cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=(self.root / "stderr.log").open("ab"), start_new_session=True,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerUnavailable(f"cyrmaster exited {self._proc.returncode}: {self.log()}")
            if greets(self.imap_port):
                return
            time.sleep(0.05)
        raise ServerUnavailable(f"cyrus did not answer within {timeout} s: {self.log()}")

    def log(self) -> str:
        path = self.root / "stderr.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def close(self) -> None:
        try:
            if self._proc is not None:
                _stop_group(self._proc)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- users and mail -------------------------------------------------------------------

    def add_user(
        self, *, folders: Sequence[str] = ("Sent", "Drafts", "Archive", "Trash")
    ) -> MailUser:
        """A fresh user: INBOX (autocreated at first login) plus ``folders`` with their roles."""
        user = MailUser(f"cy{next(_counter)}x{os.getpid()}", os.urandom(9).hex())
        self._sasl(user.name, user.password)
        roles = dict(_ROLES)
        with self.session(user) as c:
            for name in folders:
                self.create(c, name, roles.get(name))
        return user

    def create(self, c: IMAPClient, logical: str, role: str | None = None) -> None:
        name = self.folder(logical)
        args = [c._normalise_folder(name)]
        if role:
            args.append(f"(USE (\\{role}))".encode())
        typ, data = c._imap._simple_command("CREATE", *args)
        if typ != "OK":
            raise AssertionError(f"CREATE {name}: {data!r}")

    def recreate_folder(self, user: MailUser, folder: str) -> None:
        with self.session(user) as c:
            c.delete_folder(self.folder(folder))
            self.create(c, folder, dict(_ROLES).get(folder))


def _stop_group(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            break
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5.0)
