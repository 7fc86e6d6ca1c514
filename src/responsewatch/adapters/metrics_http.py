"""The metrics endpoint's HTTP server: ``/metrics`` and ``/healthz``, 404 elsewhere, and a
fixed number of threads whatever the clients do.

``prometheus_client.start_http_server`` starts a thread per connection and waits forever
for a request that never comes: 300 half-open connections held 302 threads. Here one
thread waits on every connection at once (``selectors``) until its request header is
complete, drops any that stays silent past ``read_timeout`` or sends an oversized header,
refuses connections above ``max_connections``, and hands complete requests to a small
worker pool that builds and writes the answer.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

__all__ = ["MAX_HEADER_BYTES", "MetricsServer"]

MAX_HEADER_BYTES = 8192  # a scrape's request header is a few hundred bytes
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


@dataclass(slots=True)
class _Pending:
    buffer: bytearray
    deadline: float


class MetricsServer:
    """``serve_forever()`` in one thread; ``shutdown()`` then ``server_close()`` to stop."""

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        *,
        read_timeout: float = 10.0,
        max_connections: int = 64,
        workers: int = 2,
    ) -> None:
        self._registry = registry
        self._timeout = read_timeout
        self._max = max_connections
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=128)
        self._listener.setblocking(False)
        self.server_port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._running = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metrics")
        self._pending: dict[socket.socket, _Pending] = {}
        self._busy = 0  # requests handed to the pool, not yet answered
        self._lock = threading.Lock()

    # -- the I/O loop -----------------------------------------------------------------------

    def serve_forever(self) -> None:
        self._running = True
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _events in sel.select(timeout=min(1.0, self._timeout)):
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept(sel)
                    elif sock is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)
                    else:
                        assert isinstance(sock, socket.socket)
                        self._read(sel, sock)
                self._expire(sel)
        finally:
            for sock in list(self._pending):
                self._drop(sel, sock)
            sel.close()
            self._stopped.set()

    def _accept(self, sel: selectors.BaseSelector) -> None:
        while True:
            try:
                conn, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            with self._lock:
                full = len(self._pending) + self._busy >= self._max
            if full:
                conn.close()  # beyond the bound: refused at once, nothing held
                continue
            conn.setblocking(False)
            self._pending[conn] = _Pending(bytearray(), time.monotonic() + self._timeout)
            sel.register(conn, selectors.EVENT_READ)

    def _read(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        pending = self._pending.get(sock)
        if pending is None:
            return
        try:
            chunk = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(sel, sock)
            return
        pending.buffer += chunk
        end = pending.buffer.find(b"\r\n\r\n")
        if end < 0:
            end = pending.buffer.find(b"\n\n")
        if end < 0:
            if len(pending.buffer) > MAX_HEADER_BYTES:
                self._drop(sel, sock)
            return
        sel.unregister(sock)
        del self._pending[sock]
        with self._lock:
            self._busy += 1
        self._pool.submit(self._answer, sock, bytes(pending.buffer[:end]))

    def _expire(self, sel: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for sock in [s for s, p in self._pending.items() if p.deadline < now]:
            self._drop(sel, sock)

    def _drop(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        self._pending.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(sock)
        with contextlib.suppress(OSError):
            sock.close()

    # -- the answers ------------------------------------------------------------------------

    def _answer(self, sock: socket.socket, header: bytes) -> None:
        try:
            status, content_type, body, head_only = self._response(header)
            reason = _REASONS.get(status, "")
            lines = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            sock.setblocking(True)
            sock.settimeout(self._timeout)  # a client that stops reading is dropped too
            sock.sendall(lines.encode("ascii") + (b"" if head_only else body))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._busy -= 1

    def _response(self, header: bytes) -> tuple[int, str, bytes, bool]:
        request_line, _, rest = header.partition(b"\n")
        parts = request_line.strip().split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return 400, "text/plain; charset=utf-8", b"bad request\n", False
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if method not in (b"GET", b"HEAD"):
            return 405, "text/plain; charset=utf-8", b"method not allowed\n", False
        head_only = method == b"HEAD"
        if target == b"/metrics":
            accept = ""
            for line in rest.split(b"\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"accept":
                    accept = value.strip().decode("latin-1")
            encoder, content_type = choose_encoder(accept)
            return 200, content_type, encoder(self._registry), head_only
        if target == b"/healthz":
            return 200, "text/plain; charset=utf-8", b"ok\n", head_only
        return 404, "text/plain; charset=utf-8", b"not found: try /metrics\n", head_only

    # -- stopping ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._running:
            self._stopped.wait(10)

    def server_close(self) -> None:
        self._pool.shutdown(wait=True)
        for sock in (self._listener, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                sock.close()
