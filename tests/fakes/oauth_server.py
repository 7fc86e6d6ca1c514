"""A fake OAuth 2.0 authorisation server on 127.0.0.1 (stdlib http.server, real HTTP).

/auth        the "browser" step: checks client_id, remembers the PKCE challenge and
             redirects (302) to redirect_uri with a one-time code and the state
/token       authorization_code (PKCE verified) and refresh_token grants
/introspect  RFC 7662 for Dovecot's oauth2 passdb: {"active": true, "username": ...}
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["FakeOAuth", "fake_oauth"]


@dataclass
class FakeOAuth:
    client_id: str
    username: str
    base: str = ""
    expires_in: int = 3600
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (challenge, uri)
    refresh_tokens: set[str] = field(default_factory=set)
    access: dict[str, float] = field(default_factory=dict)  # token -> expiry
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _n: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def issue(self) -> dict[str, object]:
        token = f"at-{next(self._n)}-{secrets.token_hex(4)}"
        self.access[token] = time.time() + self.expires_in
        refresh = f"rt-{secrets.token_hex(8)}"
        self.refresh_tokens.add(refresh)
        return {"access_token": token, "expires_in": self.expires_in, "refresh_token": refresh,
                "token_type": "Bearer"}  # fmt: skip


def _handler(state: FakeOAuth) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, doc: object, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(doc).encode()
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            state.requests.append(("GET " + parts.path, q))
            if parts.path != "/auth" or q.get("client_id") != state.client_id:
                self._send(400, {"error": "invalid_client"})
                return
            code = secrets.token_hex(8)
            state.codes[code] = (q["code_challenge"], q["redirect_uri"])
            target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
            self._send(302, {}, {"Location": target})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            path = urlsplit(self.path).path
            state.requests.append(("POST " + path, form))
            if path == "/introspect":
                expiry = state.access.get(form.get("token", ""))
                if expiry is not None and expiry > time.time():
                    self._send(200, {"active": "true", "username": state.username})
                else:
                    self._send(200, {"active": "false"})
                return
            if path != "/token" or form.get("client_id") != state.client_id:
                self._send(400, {"error": "invalid_client"})
                return
            if form.get("grant_type") == "authorization_code":
                found = state.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                if (
                    found is None
                    or found[0] != challenge.rstrip(b"=").decode()
                    or found[1] != form.get("redirect_uri")
                ):
                    self._send(400, {"error": "invalid_grant"})
                    return
                self._send(200, state.issue())
            elif form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in state.refresh_tokens:
                    self._send(400, {"error": "invalid_grant"})
                    return
                doc = state.issue()
                del doc["refresh_token"]  # as Google: no new refresh token on refresh
                self._send(200, doc)
            else:
                self._send(400, {"error": "unsupported_grant_type"})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_oauth(client_id: str = "cid-123", username: str = "") -> Iterator[FakeOAuth]:
    state = FakeOAuth(client_id, username)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
