"""Account discovery for ``init``: built-in presets, RFC 6186 SRV, Thunderbird autoconfig.

Order: a preset by the address's domain, then a preset by the domain's MX (Google
Workspace, Microsoft 365, OVH ... on a custom domain), then ``_imaps._tcp`` /
``_imap._tcp`` SRV records, then the domain's own autoconfig XML and Mozilla's ISPDB
(the format Thunderbird reads). Every step records what it found and where, so the user
sees why a host was chosen. DNS and HTTP are injected (tests serve them on 127.0.0.1);
their answers are hostile input: sizes are capped, XML goes through defusedxml and a
host name must look like one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import structlog

from responsewatch.netutil import is_loopback

__all__ = [
    "PRESETS",
    "Discovery",
    "Found",
    "Preset",
    "Resolver",
    "SrvRecord",
    "discover",
    "http_fetch",
    "parse_autoconfig",
    "preset_by_key",
]

log = structlog.get_logger("responsewatch.discovery")

ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/{domain}"
MAX_XML_BYTES = 256 * 1024
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SOCKET_TYPES = {"SSL": "implicit", "STARTTLS": "starttls", "plain": "none-loopback-only"}


@dataclass(frozen=True, slots=True)
class Preset:
    """A provider's IMAP settings and how its users get a secret that works."""

    key: str
    name: str
    host: str
    port: int
    tls: str
    domains: tuple[str, ...] = ()
    mx_suffixes: tuple[str, ...] = ()  # MX host suffixes identifying a hosted custom domain
    username: str = "address"  # "address" | "localpart"
    secret_help: str = ""  # app password / mailbox password, with the settings page
    oauth: str | None = None  # "google" | "microsoft": provider for `oauth login`
    ca_hint: str = ""


PRESETS: tuple[Preset, ...] = (
    Preset(
        "gmail", "Gmail / Google Workspace", "imap.gmail.com", 993, "implicit",
        ("gmail.com", "googlemail.com"), ("google.com", "googlemail.com"),
        secret_help="Google refuses your normal password: turn on 2-Step Verification, then "
        "create an app password at https://myaccount.google.com/apppasswords (Google "
        "Workspace: your admin may have to allow it), or use OAuth: `responsewatch oauth "
        "login` with your own client id (docs in the README).",
        oauth="google",
    ),
    Preset(
        "microsoft", "Microsoft 365 / Outlook.com", "outlook.office365.com", 993, "implicit",
        ("outlook.com", "outlook.fr", "hotmail.com", "hotmail.fr", "live.com", "live.fr",
         "msn.com"),
        ("mail.protection.outlook.com", "olc.protection.outlook.com"),
        secret_help="Microsoft has switched password (basic) sign-in off for IMAP: use OAuth "
        '(oauth2 = { provider = "microsoft", client_id = ... } then `responsewatch oauth '
        "login`; the app registration needs the delegated permission IMAP.AccessAsUser.All, "
        "https://entra.microsoft.com > App registrations).",
        oauth="microsoft",
    ),
    Preset(
        "icloud", "iCloud Mail", "imap.mail.me.com", 993, "implicit",
        ("icloud.com", "me.com", "mac.com"), ("mail.icloud.com",),
        secret_help="iCloud needs an app-specific password: https://account.apple.com > "
        "Sign-In and Security > App-Specific Passwords.",
    ),
    Preset(
        "fastmail", "Fastmail", "imap.fastmail.com", 993, "implicit",
        ("fastmail.com", "fastmail.fm", "fastmail.fr", "messagingengine.com"),
        ("messagingengine.com",),
        secret_help="Fastmail needs an app password: Settings > Privacy & Security > "
        "Manage app passwords (https://app.fastmail.com/settings/security), access IMAP.",
    ),
    Preset(
        "ovh", "OVHcloud (MX Plan / Email Pro)", "ssl0.ovh.net", 993, "implicit",
        (), ("mail.ovh.net", "ovh.net"),
        secret_help="OVH uses the mailbox password itself; reset it in the OVHcloud Control "
        "Panel: https://www.ovh.com/manager/ > Web Cloud > Emails > your domain > Accounts. "
        "(Hosted Exchange accounts use their exN.mail.ovh.net host instead.)",
    ),
    Preset(
        "infomaniak", "Infomaniak", "mail.infomaniak.com", 993, "implicit",
        ("ik.me", "ikmail.com", "etik.com"), ("infomaniak.ch", "infomaniak.com"),
        secret_help="Infomaniak: with two-factor sign-in on, create an application password "
        "at https://manager.infomaniak.com > your profile > Security > Application passwords.",
    ),
    Preset(
        "orange", "Orange", "imap.orange.fr", 993, "implicit",
        ("orange.fr", "wanadoo.fr"), ("orange.fr",),
        secret_help="Orange uses your Mail Orange password (manage it at "
        "https://espace-client.orange.fr > Mes identifiants).",
    ),
    Preset(
        "free", "Free", "imap.free.fr", 993, "implicit",
        ("free.fr",), ("free.fr",), username="localpart",
        secret_help="Free uses your mailbox password (manage it at https://subscribe.free.fr/"
        "login/ > Gérer mes adresses mail); the login is the part before @free.fr.",
    ),
    Preset(
        "gmx", "GMX", "imap.gmx.net", 993, "implicit",
        ("gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com", "gmx.fr"), ("gmx.net",),
        secret_help="GMX: first allow IMAP in the web mail (https://www.gmx.net): Settings > "
        "POP3 & IMAP > "
        "'Allow access via POP3 and IMAP'; then use your GMX password (or an app password "
        "when two-factor sign-in is on).",
    ),
    Preset(
        "yahoo", "Yahoo Mail", "imap.mail.yahoo.com", 993, "implicit",
        ("yahoo.com", "yahoo.fr", "yahoo.co.uk", "ymail.com", "rocketmail.com"),
        ("yahoodns.net",),
        secret_help="Yahoo needs an app password: https://login.yahoo.com/myaccount/security/"
        "app-password.",
    ),
    Preset(
        "proton", "Proton Mail (through Proton Mail Bridge)", "127.0.0.1", 1143, "starttls",
        ("proton.me", "protonmail.com", "protonmail.ch", "pm.me"), ("protonmail.ch",),
        secret_help="Proton Mail works through Proton Mail Bridge on this machine: use the "
        "IMAP password Bridge shows (Bridge > your account > Mailbox details), not your "
        "Proton password.",
        ca_hint="Bridge uses its own certificate: export it (Bridge > Settings > Advanced > "
        "Export TLS certificates) and set ca_file to cert.pem.",
    ),
)  # fmt: skip


def preset_by_key(key: str) -> Preset | None:
    return next((p for p in PRESETS if p.key == key), None)


@dataclass(frozen=True, slots=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


class Resolver(Protocol):
    def srv(self, name: str) -> Sequence[SrvRecord]: ...

    def mx(self, domain: str) -> Sequence[str]: ...


class DnsResolver:
    """dnspython, when it is installed; without it (or on any DNS failure) nothing is found."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._timeout = timeout

    def _query(self, name: str, kind: str) -> list[Any]:
        try:
            import dns.exception
            import dns.resolver
        except ImportError:
            return []
        try:
            answer = dns.resolver.resolve(name, kind, lifetime=self._timeout)
        except (dns.exception.DNSException, OSError, ValueError):
            return []
        return list(answer)

    def srv(self, name: str) -> list[SrvRecord]:
        return [
            SrvRecord(int(r.priority), int(r.weight), int(r.port), str(r.target).rstrip("."))
            for r in self._query(name, "SRV")
            if hasattr(r, "target")
        ]

    def mx(self, domain: str) -> list[str]:
        return [
            str(r.exchange).rstrip(".") for r in self._query(domain, "MX") if hasattr(r, "exchange")
        ]


Fetch = Callable[[str], bytes | None]


def http_fetch(url: str, *, timeout: float = 5.0) -> bytes | None:
    """GET ``url`` (bounded size, no redirects to other schemes); None when nothing usable."""
    import httpx

    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=3) as client,
            client.stream("GET", url, headers={"Accept": "application/xml, text/xml"}) as resp,
        ):
            if resp.status_code != 200:
                return None
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_XML_BYTES:
                    return None
                chunks.append(chunk)
            return b"".join(chunks)
    except (httpx.HTTPError, OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Found:
    """IMAP settings for one address and where they came from."""

    host: str
    port: int
    tls: str
    username: str
    source: str  # e.g. "preset Gmail", "SRV _imaps._tcp.example.org", "autoconfig https://..."
    preset: Preset | None = None
    oauth_only: bool = False  # autoconfig offered OAuth2 and no password mechanism


@dataclass(slots=True)
class Discovery:
    found: Found | None = None
    steps: list[str] = field(default_factory=list)


def _username(preset: Preset, email: str) -> str:
    return email.partition("@")[0] if preset.username == "localpart" else email


def _from_preset(preset: Preset, email: str, where: str) -> Found:
    return Found(
        preset.host, preset.port, preset.tls, _username(preset, email), where, preset=preset
    )


def _mx_preset(mx_hosts: Sequence[str]) -> Preset | None:
    for host in mx_hosts:
        host = host.lower()
        for preset in PRESETS:
            if any(host == s or host.endswith("." + s) for s in preset.mx_suffixes):
                return preset
    return None


def _srv(resolver: Resolver, domain: str, email: str, steps: list[str]) -> Found | None:
    for service, tls in (("_imaps._tcp", "implicit"), ("_imap._tcp", "starttls")):
        name = f"{service}.{domain}"
        # "." is RFC 2782's "service not available here"; names may come fully qualified.
        records = [
            SrvRecord(r.priority, r.weight, r.port, r.target.rstrip("."))
            for r in resolver.srv(name)
            if _HOST.match(r.target.rstrip(".")) and 0 < r.port < 65536
        ]
        if not records:
            steps.append(f"SRV {name}: no record")
            continue
        best = min(records, key=lambda r: (r.priority, -r.weight))
        steps.append(f"SRV {name}: {best.target}:{best.port}")
        return Found(best.target, best.port, tls, email, f"SRV record {name}")
    return None


def parse_autoconfig(data: bytes, email: str) -> Found | None:
    """The best IMAP server of a Thunderbird autoconfig document (clientConfig v1.1)."""
    import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
    from defusedxml import DefusedXmlException

    if len(data) > MAX_XML_BYTES:
        return None
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return None
    local, _at, domain = email.partition("@")
    candidates: list[tuple[int, Found]] = []
    for server in root.iter("incomingServer"):
        if (server.get("type") or "").lower() != "imap":
            continue
        host = (server.findtext("hostname") or "").strip()
        port_text = (server.findtext("port") or "").strip()
        socket = (server.findtext("socketType") or "").strip()
        if not _HOST.match(host) or not port_text.isdigit() or socket not in _SOCKET_TYPES:
            continue
        port = int(port_text)
        if not 0 < port < 65536:
            continue
        tls = _SOCKET_TYPES[socket]
        if tls == "none-loopback-only" and not is_loopback(host):
            continue  # never plain IMAP across a network
        auths = {(a.text or "").strip() for a in server.iter("authentication")}
        user = (server.findtext("username") or "%EMAILADDRESS%").strip()
        user = (
            user.replace("%EMAILADDRESS%", email)
            .replace("%EMAILLOCALPART%", local)
            .replace("%EMAILDOMAIN%", domain)
        )
        if "%" in user or not user or len(user) > 320:
            user = email
        password = bool(auths & {"password-cleartext", "password-encrypted", "plain", ""}) or (
            not auths
        )
        rank = (0 if tls == "implicit" else 1) + (0 if password else 2)
        candidates.append((rank, Found(host, port, tls, user, "", oauth_only=not password)))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[0])[1]


def _autoconfig(fetch: Fetch, domain: str, email: str, steps: list[str]) -> Found | None:
    urls = (
        f"https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={quote(email)}",
        f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
        ISPDB_URL.format(domain=domain),
    )
    for url in urls:
        data = fetch(url)
        if data is None:
            steps.append(f"autoconfig {url}: nothing")
            continue
        found = parse_autoconfig(data, email)
        if found is None:
            steps.append(f"autoconfig {url}: no usable IMAP server in the document")
            continue
        steps.append(f"autoconfig {url}: {found.host}:{found.port} ({found.tls})")
        return Found(
            found.host,
            found.port,
            found.tls,
            found.username,
            f"autoconfig {url}",
            oauth_only=found.oauth_only,
        )
    return None


def discover(
    email: str,
    *,
    resolver: Resolver | None = None,
    fetch: Fetch | None = None,
) -> Discovery:
    """Settings for ``email``: presets, then MX-matched presets, SRV, autoconfig, ISPDB."""
    result = Discovery()
    steps = result.steps
    domain = email.strip().lower().rpartition("@")[2]
    if not _DOMAIN.match(domain):
        steps.append(f"{domain!r} is not a mail domain: nothing to look up")
        return result
    for preset in PRESETS:
        if domain in preset.domains:
            steps.append(f"preset {preset.name}: {domain} is one of its domains")
            result.found = _from_preset(preset, email, f"built-in preset {preset.name}")
            return result
    steps.append(f"presets: {domain} is not a known provider domain")
    resolver = resolver if resolver is not None else DnsResolver()
    mx = [h for h in resolver.mx(domain) if _HOST.match(h)]
    hosted = _mx_preset(mx)
    if hosted is not None:
        steps.append(f"MX {domain}: {mx[0]} is hosted by {hosted.name}")
        result.found = _from_preset(hosted, email, f"MX of {domain} -> preset {hosted.name}")
        return result
    steps.append(f"MX {domain}: " + (", ".join(mx[:3]) + " (no known provider)" if mx else "none"))
    result.found = _srv(resolver, domain, email, steps)
    if result.found is None:
        result.found = _autoconfig(fetch if fetch is not None else http_fetch, domain, email, steps)
    log.info("discovery", domain=domain, found=result.found.host if result.found else None)
    return result
