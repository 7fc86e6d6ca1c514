"""The status page's HTTP server: routes, basic auth, CSRF, limits. No content of its own.

A ``ThreadingHTTPServer`` with a bound on connections in flight (one more is refused with
503 rather than queued: a page view must never pile up threads on a NAS) and a read
timeout per connection (a slow client cannot hold a thread). The content comes from a
``StatusPages`` (app/status_app.py), which renders from the latest analysis snapshot and
never touches the mail connections, so a page view never waits for a sync.

CSRF: a per-process secret; the page sets a random ``rw_csrf`` cookie (SameSite=Strict,
HttpOnly) and its forms carry HMAC(secret, cookie). A POST whose field does not match its
cookie, or whose Origin is another site, is refused with 403.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import threading
import urllib.parse
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from responsewatch import netutil
from responsewatch.errors import ConfigError
from responsewatch.ports import StatusPages, WebResponse

__all__ = ["MAX_CONNECTIONS", "READ_TIMEOUT_S", "WebServer", "csrf_token", "parse_listen"]

log = structlog.get_logger("responsewatch.web")

MAX_CONNECTIONS = 16
READ_TIMEOUT_S = 10.0
MAX_BODY = 4096  # the forms carry an id and a token
COOKIE = "rw_csrf"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" turns a POST's Origin into "null"
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def parse_listen(listen: str) -> tuple[str, int]:
    parsed = netutil.parse_listen(listen)
    if parsed is None:
        raise ConfigError(f"web.listen: expected HOST:PORT such as 127.0.0.1:9878, got {listen!r}")
    return parsed


def csrf_token(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()


def _digest(value: bytes) -> bytes:
    # Compared as fixed-length digests: compare_digest then leaks nothing about the length.
    return hashlib.sha256(value).digest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = MAX_CONNECTIONS

    def __init__(self, address: tuple[str, int], owner: WebServer) -> None:
        self.owner = owner
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\nRetry-After: 1\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = READ_TIMEOUT_S
    protocol_version = "HTTP/1.1"
    server_version = "responsewatch"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line carries ids; structlog gets method, path and status only

    def _send(self, resp: WebResponse, extra: dict[str, str] | None = None) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        if resp.location:
            self.send_header("Location", resp.location)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)
        log.debug("web_request", method=self.command, path=self.path.split("?")[0],
                  status=resp.status)  # fmt: skip

    def _plain(self, status: HTTPStatus, extra: dict[str, str] | None = None) -> None:
        text = f"{status.value} {status.phrase}\n".encode()
        self._send(WebResponse(status.value, text, "text/plain; charset=utf-8"), extra)

    def _authorized(self) -> bool:
        expected = self.server.owner.password
        if expected is None:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        given = b""
        if scheme.lower() == "basic":
            try:
                given = base64.b64decode(value.strip(), validate=True).partition(b":")[2]
            except ValueError:
                given = b""
        return hmac.compare_digest(_digest(given), _digest(expected.encode()))

    def _cookie_nonce(self) -> str | None:
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = cookie.get(COOKIE)
        return morsel.value if morsel is not None and morsel.value else None

    def _route(self) -> tuple[str, dict[str, str]]:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, max_num_fields=8))
        return url.path, query

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path, query = self._route()
        pages = self.server.owner.pages
        if path == "/healthz":  # unauthenticated: the container's check; says nothing else
            self._send(pages.health())
            return
        if not self._authorized():
            self._plain(
                HTTPStatus.UNAUTHORIZED,
                {"WWW-Authenticate": 'Basic realm="responsewatch", charset="UTF-8"'},
            )
            return
        if path == "/":
            nonce = self._cookie_nonce()
            extra: dict[str, str] = {}
            if nonce is None or len(nonce) > 64:
                nonce = secrets.token_urlsafe(24)
                extra["Set-Cookie"] = f"{COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict"
            self._send(pages.page(query, csrf_token(self.server.owner.secret, nonce)), extra)
        elif path == "/api/status":
            self._send(pages.api_status())
        else:
            found = pages.static(path.lstrip("/"))
            if found is None:
                self._plain(HTTPStatus.NOT_FOUND)
            else:
                self._send(found)

    def do_POST(self) -> None:
        path, _query = self._route()
        if not self._authorized():
            self._plain(
                HTTPStatus.UNAUTHORIZED,
                {"WWW-Authenticate": 'Basic realm="responsewatch", charset="UTF-8"'},
            )
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        raw = self.rfile.read(length).decode("utf-8", "replace")
        form = dict(urllib.parse.parse_qsl(raw, max_num_fields=8))
        if not self._same_origin() or not self._csrf_ok(form.get("csrf", "")):
            self._plain(HTTPStatus.FORBIDDEN)
            return
        if not path.startswith("/action/"):
            self._plain(HTTPStatus.NOT_FOUND)
            return
        self._send(self.server.owner.pages.action(path.removeprefix("/action/"), form))

    def _same_origin(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is None or origin == "null":
            return origin is None
        return urllib.parse.urlsplit(origin).netloc == self.headers.get("Host", "")

    def _csrf_ok(self, given: str) -> bool:
        nonce = self._cookie_nonce()
        if nonce is None or not given:
            return False
        expected = csrf_token(self.server.owner.secret, nonce)
        return hmac.compare_digest(given.encode(), expected.encode())


class WebServer:
    """Serve ``pages`` on ``listen`` in a background thread; ``close()`` stops it."""

    def __init__(self, pages: StatusPages, listen: str, *, password: str | None = None) -> None:
        self.pages = pages
        self.password = password
        self.secret = secrets.token_bytes(32)  # per process: a restart invalidates old forms
        host, port = parse_listen(listen)
        try:
            self._server = _Server((host, port), self)
        except OSError as exc:
            raise ConfigError(f"web.listen {listen!r}: cannot listen ({exc})") from exc
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="web", kwargs={"poll_interval": 0.2},
            daemon=True,
        )  # fmt: skip

    def start(self) -> None:
        self._thread.start()
        log.info("web_listening", port=self.port, auth=self.password is not None)

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
