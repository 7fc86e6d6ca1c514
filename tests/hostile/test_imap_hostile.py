"""IMAP secrets and hostile servers: UTF-8 passwords (real Dovecot), a server echoing the
credentials, and a server sending unbounded literals and lines."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import io
import secrets
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
import structlog
from imapclient.exceptions import IMAPClientAbortError
from structlog.testing import capture_logs

from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.adapters.imap_fetch import (
    MAX_LINE,
    MAX_LITERAL,
    MAX_LITERAL_KEPT,
    bounded_reader,
    read_direct,
)
from responsewatch.errors import AuthFailed
from tests.servers.dovecot import HOST, Dovecot

# Quote and backslash (imaplib escapes them), non-ASCII (LOGIN cannot carry it).
ECHOED = 'p"a\\ss-wörd-' + secrets.token_hex(4)


def _account(port: int, user: str, password: str, **kw: object) -> ImapAccount:
    return ImapAccount(
        "mail", HOST, port, "none-loopback-only", user, lambda: password, timeout=5.0, **kw
    )  # type: ignore[arg-type]


def test_utf8_password_logs_in_to_dovecot(dovecot: Dovecot) -> None:
    name, password = f"utf8-{secrets.token_hex(3)}", "pässwörd-€-" + secrets.token_hex(4)
    with (dovecot.root / "users").open("a", encoding="utf-8") as users:
        users.write(f"{name}:{password}::::::\n")
    time.sleep(1.1)  # Dovecot re-reads its passwd-file at most once a second
    src = ImapMailSource(_account(dovecot.imap_port, name, password))
    try:
        names = {f.name for f in src.folders()}
    finally:
        src.close()
    assert "INBOX" in names


def test_wrong_utf8_password_is_a_clean_auth_failure(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    src = ImapMailSource(_account(dovecot.imap_port, user.name, "wrông-" + user.password))
    with pytest.raises(AuthFailed) as info:
        src.folders()
    src.close()
    assert "wrông" not in str(info.value) and "ô" not in str(info.value)


# -- a server that echoes what it was sent -------------------------------------------------


@contextlib.contextmanager
def fake_imap(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A one-connection-at-a-time IMAP server on a free loopback port, run by ``handle``."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _echoing(caps: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        f = conn.makefile("rwb")
        f.write(b"* OK [CAPABILITY IMAP4rev1 " + caps + b"] echo server\r\n")
        f.flush()
        while line := f.readline():
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            if rest.upper().startswith(b"CAPABILITY"):
                f.write(b"* CAPABILITY IMAP4rev1 " + caps + b"\r\n" + tag + b" OK done\r\n")
            elif rest.upper().startswith(b"AUTHENTICATE"):
                f.write(b"+ \r\n")
                f.flush()
                answer = f.readline().strip()
                f.write(tag + b" NO [AUTHENTICATIONFAILED] you sent " + answer + b"\r\n")
            elif rest.upper().startswith(b"LOGIN"):
                f.write(tag + b" NO [AUTHENTICATIONFAILED] you said " + rest + b"\r\n")
            elif rest.upper().startswith(b"LOGOUT"):
                f.write(b"* BYE\r\n" + tag + b" OK bye\r\n")
                f.flush()
                return
            else:
                f.write(tag + b" BAD what\r\n")
            f.flush()

    return handle


def _forms(password: str, user: str) -> list[str]:
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    b64 = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    return [password, quoted, repr(password.encode())[2:-1], b64, "wörd", "w\\xc3\\xb6rd"]


@pytest.mark.parametrize(
    ("caps", "password"),
    [
        (b"AUTH=PLAIN", ECHOED),  # non-ASCII: AUTHENTICATE PLAIN, echoed in base64
        (b"AUTH=PLAIN", ECHOED.replace("ö", "o")),  # ASCII: LOGIN, echoed imaplib-quoted
    ],
)
def test_an_echoing_server_never_gets_the_password_into_logs_or_errors(
    caps: bytes, password: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from responsewatch.logs import configure_logging

    configure_logging(json=True)
    with fake_imap(_echoing(caps)) as port:
        src = ImapMailSource(_account(port, "claire", password))
        with pytest.raises(AuthFailed) as info:
            src.folders()
        src.close()
    structlog.get_logger("t").error("sync_failed", error=str(info.value))
    shown = str(info.value) + capsys.readouterr().err
    assert "you s" in shown  # the server's words are kept...
    for form in _forms(password, "claire"):
        assert form not in shown, form  # ...without the secret in any form


def test_non_ascii_password_without_auth_plain_is_refused_clearly() -> None:
    with fake_imap(_echoing(b"IDLE")) as port:
        src = ImapMailSource(_account(port, "claire", ECHOED))
        with capture_logs() as logs, pytest.raises(AuthFailed) as info:
            src.folders()
        src.close()
    assert "non-ASCII" in str(info.value)
    assert "ö" not in str(info.value) and "ö" not in repr(logs)


# -- a server sending unbounded literals and lines -----------------------------------------


class _Stream(io.RawIOBase):
    """Bytes made on demand: a server's answer of any size without holding it."""

    def __init__(self, *pieces: bytes | tuple[bytes, int]) -> None:
        self._pieces = [p if isinstance(p, tuple) else (p, 1) for p in pieces]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._pieces:
            chunk, times = self._pieces[0]
            if times == 0:
                self._pieces.pop(0)
                continue
            n = min(len(buffer), len(chunk))
            buffer[:n] = chunk[:n]
            rest = chunk[n:]
            if rest:
                self._pieces[0] = (rest, 1)
                if times > 1:
                    self._pieces.insert(1, (chunk, times - 1))
            else:
                self._pieces[0] = (chunk, times - 1)
            return n
        return 0


class _Imap:
    def __init__(self, *pieces: bytes | tuple[bytes, int]) -> None:
        self.file = io.BufferedReader(_Stream(*pieces), 65536)


def _peak(fn: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result: object = fn()
    except Exception as exc:
        result = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak


def test_a_huge_header_literal_is_kept_bounded_and_read_off() -> None:
    size = 40 * 1024 * 1024
    imap = _Imap(
        b"* 1 FETCH (UID 7 BODY[HEADER] {%d}\r\n" % size,
        (b"X-Pad: " + b"a" * 65521 + b"\r\n", size // 65530),
        b"b" * (size % 65530),
        b")\r\n",
        b"A1 OK done\r\n",
    )
    result, peak = _peak(lambda: read_direct(imap, b"A1"))  # type: ignore[arg-type]
    assert isinstance(result, list)
    ((_text, (header,)),) = result
    assert len(header) == MAX_LITERAL_KEPT
    assert peak < 4 * MAX_LITERAL_KEPT  # flat: not the 40 MB announced


def test_an_absurd_literal_or_endless_line_ends_the_connection() -> None:
    announced = _Imap(b"* 1 FETCH (UID 7 BODY[HEADER] {999999999999}\r\n", b"x" * 10)
    result, _peak_bytes = _peak(lambda: read_direct(announced, b"A1"))  # type: ignore[arg-type]
    assert isinstance(result, IMAPClientAbortError)
    endless = _Imap(b"* 1 FETCH (UID 7 ", (b"x" * 65536, 400))  # 26 MB, no line end
    result, peak = _peak(lambda: read_direct(endless, b"A1"))  # type: ignore[arg-type]
    assert isinstance(result, IMAPClientAbortError)
    assert peak < 3 * MAX_LINE


def test_imaplib_own_literal_reads_are_capped() -> None:
    imap = imaplib.IMAP4.__new__(imaplib.IMAP4)
    imap.file = io.BufferedReader(_Stream(b"abc"))  # type: ignore[assignment]
    bounded_reader(imap)
    assert imap.read(3) == b"abc"
    with pytest.raises(IMAPClientAbortError):
        imap.read(MAX_LITERAL + 1)
