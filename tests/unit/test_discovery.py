"""Account discovery: presets, MX, SRV (injected resolver), autoconfig served on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from rich.console import Console

from responsewatch.adapters.discovery import (
    PRESETS,
    Discovery,
    SrvRecord,
    discover,
    http_fetch,
    parse_autoconfig,
)
from responsewatch.app.init_app import InitOptions, _settings
from responsewatch.cli.screen import RichScreen
from responsewatch.netutil import is_loopback

AUTOCONFIG = b"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <incomingServer type="pop3">
      <hostname>pop.example.org</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap-starttls.example.org</hostname><port>143</port>
      <socketType>STARTTLS</socketType><username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.org</hostname><port>993</port>
      <socketType>SSL</socketType><username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.org</hostname><port>465</port><socketType>SSL</socketType>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


class FakeDns:
    def __init__(
        self, srv: dict[str, list[SrvRecord]] | None = None, mx: dict[str, list[str]] | None = None
    ) -> None:
        self._srv, self._mx = srv or {}, mx or {}
        self.asked: list[str] = []

    def srv(self, name: str) -> Sequence[SrvRecord]:
        self.asked.append(name)
        return self._srv.get(name, [])

    def mx(self, domain: str) -> Sequence[str]:
        self.asked.append("MX " + domain)
        return self._mx.get(domain, [])


@pytest.fixture
def http() -> Iterator[tuple[dict[str, bytes], list[str], str]]:
    """A real HTTP server on 127.0.0.1: path -> body; records the requested paths."""
    pages: dict[str, bytes] = {}
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers["Host"].split(":")[0] + self.path)
            body = pages.get(self.headers["Host"].split(":")[0] + urlsplit(self.path).path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield pages, seen, f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def local_fetch(addr: str):
    """https://HOST/PATH -> http://127.0.0.1:PORT/PATH with Host: HOST (the real fetcher)."""
    import httpx

    def fetch(url: str) -> bytes | None:
        parts = urlsplit(url)
        with httpx.Client(timeout=5) as client:
            resp = client.get(
                f"http://{addr}{parts.path}" + (f"?{parts.query}" if parts.query else ""),
                headers={"Host": parts.hostname or ""},
            )
        return resp.content if resp.status_code == 200 else None

    return fetch


@pytest.mark.parametrize(
    ("address", "host", "username"),
    [
        ("claire@gmail.com", "imap.gmail.com", "claire@gmail.com"),
        ("claire@hotmail.fr", "outlook.office365.com", "claire@hotmail.fr"),
        ("claire@icloud.com", "imap.mail.me.com", "claire@icloud.com"),
        ("claire@fastmail.com", "imap.fastmail.com", "claire@fastmail.com"),
        ("claire@ik.me", "mail.infomaniak.com", "claire@ik.me"),
        ("claire@wanadoo.fr", "imap.orange.fr", "claire@wanadoo.fr"),
        ("claire@free.fr", "imap.free.fr", "claire"),
        ("claire@gmx.de", "imap.gmx.net", "claire@gmx.de"),
        ("claire@yahoo.fr", "imap.mail.yahoo.com", "claire@yahoo.fr"),
        ("claire@proton.me", "127.0.0.1", "claire@proton.me"),
    ],
)
def test_presets_by_domain_never_touch_the_network(address: str, host: str, username: str) -> None:
    dns = FakeDns()
    found = discover(address, resolver=dns, fetch=lambda url: pytest.fail(url))
    assert found.found is not None and found.found.host == host
    assert found.found.username == username
    assert dns.asked == []
    assert found.steps[0].startswith("preset ")


def test_every_preset_explains_its_secret_with_a_settings_page_or_the_mechanism() -> None:
    for p in PRESETS:
        assert p.secret_help, p.key
        assert "https://" in p.secret_help or "Bridge" in p.secret_help, p.key


@pytest.mark.parametrize(
    ("mx", "preset"),
    [
        ("aspmx.l.google.com", "gmail"),
        ("martin-conseil-fr.mail.protection.outlook.com", "microsoft"),
        ("mx1.mail.ovh.net", "ovh"),
        ("mta-gw.infomaniak.ch", "infomaniak"),
    ],
)
def test_custom_domain_hosted_by_a_provider_found_by_its_mx(mx: str, preset: str) -> None:
    found = discover("claire@martin-conseil.fr", resolver=FakeDns(mx={"martin-conseil.fr": [mx]}))
    assert found.found is not None and found.found.preset is not None
    assert found.found.preset.key == preset
    assert any(mx in s for s in found.steps)


def test_srv_record_lowest_priority_wins_and_the_step_says_where() -> None:
    dns = FakeDns(
        srv={
            "_imaps._tcp.example.org": [
                SrvRecord(20, 0, 993, "backup.example.org"),
                SrvRecord(10, 5, 9993, "imap.example.org."),
            ]
        },
        mx={"example.org": ["mx.example.org"]},
    )
    found = discover("c@example.org", resolver=dns, fetch=lambda url: pytest.fail(url))
    assert found.found is not None
    assert (found.found.host, found.found.port, found.found.tls) == (
        "imap.example.org.".rstrip("."),
        9993,
        "implicit",
    )
    assert "SRV _imaps._tcp.example.org: imap.example.org:9993" in found.steps


def test_hostile_srv_targets_are_ignored() -> None:
    dns = FakeDns(srv={"_imaps._tcp.example.org": [SrvRecord(0, 0, 993, "evil host;rm -rf")]})
    found = discover("c@example.org", resolver=dns, fetch=lambda url: None)
    assert found.found is None


def test_autoconfig_from_the_domain_served_on_loopback(http) -> None:
    pages, seen, addr = http
    pages["autoconfig.example.org/mail/config-v1.1.xml"] = AUTOCONFIG
    found = discover("claire@example.org", resolver=FakeDns(), fetch=local_fetch(addr))
    assert found.found is not None
    # SSL is preferred over STARTTLS; %EMAILLOCALPART% is expanded
    assert (found.found.host, found.found.port, found.found.tls, found.found.username) == (
        "imap.example.org",
        993,
        "implicit",
        "claire",
    )
    assert seen[0].startswith("autoconfig.example.org/mail/config-v1.1.xml?emailaddress=claire")
    assert any(s.startswith("autoconfig https://autoconfig.example.org/") for s in found.steps)


def test_ispdb_is_the_last_resort(http) -> None:
    pages, seen, addr = http
    pages["autoconfig.thunderbird.net/v1.1/example.org"] = AUTOCONFIG
    found = discover("claire@example.org", resolver=FakeDns(), fetch=local_fetch(addr))
    assert found.found is not None and found.found.source.endswith("/v1.1/example.org")
    assert [s.split("/")[0] for s in seen] == [
        "autoconfig.example.org",
        "example.org",
        "autoconfig.thunderbird.net",
    ]


def test_http_fetch_caps_the_size_and_returns_none_on_404(http) -> None:
    pages, _seen, addr = http
    pages[f"{addr.split(':')[0]}/big"] = b"x" * (300 * 1024)
    assert http_fetch(f"http://{addr}/big") is None
    assert http_fetch(f"http://{addr}/missing") is None
    pages[f"{addr.split(':')[0]}/ok"] = AUTOCONFIG
    assert http_fetch(f"http://{addr}/ok") == AUTOCONFIG


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<clientConfig><incomingServer type='imap'><hostname>&b;</hostname>"
        b"<port>993</port><socketType>SSL</socketType></incomingServer></clientConfig>",
        b"<clientConfig><incomingServer type='imap'><hostname>imap.x.org</hostname>"
        b"<port>99999</port><socketType>SSL</socketType></incomingServer></clientConfig>",
        b"<clientConfig><incomingServer type='imap'><hostname>imap.x.org</hostname>"
        b"<port>143</port><socketType>plain</socketType></incomingServer></clientConfig>",
        b"<clientConfig><incomingServer type='imap'><hostname>a b</hostname>",
        b"\xff\xfe not xml",
        b"",
    ],
)
def test_hostile_or_unsafe_autoconfig_yields_nothing(doc: bytes) -> None:
    assert parse_autoconfig(doc, "c@x.org") is None


@pytest.mark.parametrize(
    ("host", "kept"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("localhost.localdomain", False),
        ("10.0.0.1", False),
    ],
)
def test_plain_autoconfig_follows_the_one_loopback_rule(host: str, kept: bool) -> None:
    # Same answer as the config and the IMAP adapter (netutil.is_loopback), not a list of its own.
    doc = (
        b"<clientConfig><incomingServer type='imap'><hostname>" + host.encode() + b"</hostname>"
        b"<port>143</port><socketType>plain</socketType></incomingServer></clientConfig>"
    )
    found = parse_autoconfig(doc, "c@x.org")
    assert (found is not None) is kept
    assert is_loopback(host) is kept


def test_oauth_only_autoconfig_is_flagged() -> None:
    doc = AUTOCONFIG.replace(b"password-cleartext", b"OAuth2")
    found = parse_autoconfig(doc, "c@example.org")
    assert found is not None and found.oauth_only


class Scripted:
    def __init__(self, answers: dict[str, str]) -> None:
        self.answers, self.asked = answers, []

    def text(self, question: str, default: str | None = None) -> str:
        self.asked.append(question)
        return next((a for q, a in self.answers.items() if question.startswith(q)), default or "")

    def secret(self, question: str) -> str:
        raise AssertionError(question)

    def confirm(self, question: str, default: bool = True) -> bool:
        return default


def test_nothing_found_asks_for_the_host(tmp_path: Path) -> None:
    found = discover("c@nowhere.example", resolver=FakeDns(), fetch=lambda url: None)
    assert found.found is None
    ask = Scripted({"IMAP server": "mail.nowhere.example", "TLS": "starttls"})
    console = Console(file=open(tmp_path / "out", "w"), width=200)  # noqa: SIM115
    account, preset = _settings(
        InitOptions(config=tmp_path / "c.toml"),
        "c@nowhere.example",
        RichScreen(console),
        ask,
        found,
    )
    console.file.close()
    assert preset is None
    assert (account.host, account.tls, account.port, account.username) == (
        "mail.nowhere.example",
        "starttls",
        143,
        "c@nowhere.example",
    )
    assert ask.asked[0] == "IMAP server host name"
    assert "nothing found" in (tmp_path / "out").read_text()


def test_not_a_domain_looks_nothing_up() -> None:
    dns = FakeDns()
    assert discover("c@-bad-", resolver=dns).found is None and dns.asked == []
    assert isinstance(Discovery(), Discovery)


def test_no_sent_folder_stops_with_the_fix(tmp_path: Path) -> None:
    from responsewatch.app.init_app import _print_folders
    from responsewatch.errors import ConfigError
    from responsewatch.ports import FolderRef

    out = Console(file=open(tmp_path / "out", "w"), width=200)  # noqa: SIM115
    console = RichScreen(out)
    folders = [FolderRef("main", "INBOX", "inbox"), FolderRef("main", "Archive", "archive")]
    with pytest.raises(ConfigError, match=r'folders = \["INBOX", "Sent Items"\]'):
        _print_folders(folders, console, ["INBOX", "Archive", "Sent Items"])
    with pytest.raises(ConfigError, match="SPECIAL-USE"):
        _print_folders(folders, console)
    sent = FolderRef("main", "Envoyés", "sent")
    assert _print_folders([*folders, sent], console) == sent
    out.file.close()
