"""A throwaway RFC 3161 Time-Stamp Authority: Debian's ``openssl ts -reply`` behind an HTTP
server on 127.0.0.1 (a free port), with its own test CA.

The CA and the TSA certificate (``extendedKeyUsage = critical,timeStamping``) are made with
``openssl req``/``x509`` at start. ``down()`` makes every request fail with HTTP 503 until
``up()``; ``requests`` counts the queries answered. Failure to start raises
``TsaUnavailable``: tests FAIL, never skip.

    tsa = LocalTsa.start_new()
    ... settings with archive.tsa_urls = [tsa.url], archive.tsa_ca_file = tsa.ca_file
    tsa.close()
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["LocalTsa", "TsaUnavailable", "make_ca"]

HOST = "127.0.0.1"

_TSA_CONF = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


class TsaUnavailable(RuntimeError):
    """openssl is missing or the TSA did not start: the test must fail, not skip."""


def _run(*args: str, cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise TsaUnavailable(f"{' '.join(args[:3])}: {done.stderr.decode(errors='replace')}")


def make_ca(directory: Path, name: str = "Test TSA Root") -> Path:
    """A self-signed CA (key + cert) in ``directory``; returns the cert's path."""
    directory.mkdir(parents=True, exist_ok=True)
    _run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
        "-subj", f"/CN={name}", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return directory / "ca.pem"


class LocalTsa:
    def __init__(self, root: Path, server: ThreadingHTTPServer) -> None:
        self.root = root
        self.ca_file = root / "ca.pem"
        self._server = server
        self._down = False
        self.requests = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}/tsr"

    @classmethod
    def start_new(cls) -> LocalTsa:
        if shutil.which("openssl") is None:
            raise TsaUnavailable("openssl is not installed (scripts/test.sh installs it)")
        root = Path(tempfile.mkdtemp(prefix="rw-tsa-"))
        make_ca(root)
        (root / "tsa.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=critical,timeStamping\n"
        )
        _run(
            "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj",
            "/O=responsewatch tests/CN=Test Time-Stamp Authority",
            "-keyout", "tsa.key", "-out", "tsa.csr", cwd=root,
        )  # fmt: skip
        _run(
            "openssl", "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "3", "-extfile", "tsa.ext", "-out", "tsa.pem", cwd=root,
        )  # fmt: skip
        (root / "serial").write_text("01\n")
        (root / "tsa.cnf").write_text(_TSA_CONF.format(dir=root))
        holder: list[LocalTsa] = []
        server = ThreadingHTTPServer((HOST, 0), _handler(root, holder))
        tsa = cls(root, server)
        holder.append(tsa)
        return tsa

    def reply(self, query: bytes) -> bytes | None:
        """The DER TimeStampResp for ``query`` from ``openssl ts -reply`` (None when down)."""
        with self._lock:  # openssl increments the serial file: one at a time
            if self._down:
                return None
            q = self.root / "query.tsq"
            q.write_bytes(query)
            done = subprocess.run(
                ["openssl", "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "query.tsq",
                 "-out", "reply.tsr"],
                cwd=self.root, capture_output=True, timeout=30, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                return None
            self.requests += 1
            return (self.root / "reply.tsr").read_bytes()

    def down(self) -> None:
        self._down = True

    def up(self) -> None:
        self._down = False

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        shutil.rmtree(self.root, ignore_errors=True)


def _handler(root: Path, holder: list[LocalTsa]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            query = self.rfile.read(length)
            answer = (
                holder[0].reply(query)
                if self.headers.get_content_type() == ("application/timestamp-query")
                else None
            )
            if answer is None:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet test output

    return Handler
