"""A local HTTP receiver for Apprise ``json://`` and Alertmanager webhooks (127.0.0.1, free
port). ``statuses`` scripts the next answers (default 200); ``hang`` makes it hold each
request without answering; ``down()`` / ``up()`` close and reopen the same port."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Webhook"]

HOST = "127.0.0.1"


@dataclass
class Webhook:
    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    hung: int = 0
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.up()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    def up(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                with hook._lock:
                    hook.attempts += 1
                    status = hook.statuses.pop(0) if hook.statuses else 200
                if hook.hang:  # the sender is meant to die while waiting: never answer
                    hook.hung += 1
                    while hook.hang:
                        time.sleep(0.05)
                    return
                if status == 200:
                    try:
                        doc = json.loads(data or b"null")
                    except ValueError:
                        doc = {"raw": data.decode("utf-8", "replace")}
                    with hook._lock:
                        hook.received.append({"path": self.path, "body": doc, "at": time.time(),
                                              "headers": dict(self.headers)})  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                pass

        server = ThreadingHTTPServer((HOST, self.port), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.hang = False
        self.down()
