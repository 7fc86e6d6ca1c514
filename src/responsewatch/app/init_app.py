"""``responsewatch init``: from an e-mail address to a checked configuration.

Discovery, secret choice, login (the code ``check`` uses), folder roles, a read-only scan
of the Sent headers proposing clients, then one atomic write of a commented TOML file.
Nothing is written before the last step, so Ctrl-C at any prompt leaves no trace; the
secret itself never reaches the TOML, the console, or a command line we suggest.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from responsewatch.adapters.discovery import Discovery, Fetch, Found, Preset, Resolver, discover
from responsewatch.adapters.imap import ImapMailSource
from responsewatch.app.bootstrap import imap_account
from responsewatch.app.commands import CheckReport
from responsewatch.config import AccountSettings, SecretRef, settings_from_mapping
from responsewatch.core.onboarding import ClientProposal, client_name, propose_clients
from responsewatch.core.parsing import parse_message
from responsewatch.errors import AuthFailed, ConfigError
from responsewatch.ports import Cursor, FolderRef, ServerListing
from responsewatch.secrets import resolve_secret

__all__ = [
    "Answers",
    "InitOptions",
    "Part",
    "Screen",
    "YesAnswers",
    "oauth_login_command",
    "run_init",
]

SCAN_DAYS = 90
SCAN_MAX_MESSAGES = 5000  # the newest Sent messages read at most: bounds the scan's time
LOGIN_ATTEMPTS = 3
ACCOUNT_NAME = "main"
_SENT_NAMES = re.compile(r"sent|envoy|gesendet|enviad|inviat|verzonden", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s\"'\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class InitOptions:
    config: Path
    email: str | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    tls: str | None = None
    username: str | None = None
    ca_file: str | None = None
    password_env: str | None = None
    password_command: str | None = None
    password_file: str | None = None
    clients_from_sent: int = 5
    yes: bool = False
    language: str | None = None
    timezone: str | None = None
    force: bool = False
    oauth: str | None = None  # "google" | "microsoft": XOAUTH2 instead of a password
    oauth_client_id: str | None = None


class Answers(Protocol):
    """Where answers come from: a terminal, or the defaults (``--yes``)."""

    def text(self, question: str, default: str | None = None) -> str: ...

    def secret(self, question: str) -> str: ...

    def confirm(self, question: str, default: bool = True) -> bool: ...


# A piece of a line: text, or (text, style) where style names a tone such as "green".
Part = str | tuple[str, str]


class Screen(Protocol):
    """Where the wizard shows things (the CLI draws them: cli/screen.py)."""

    def line(self, *parts: Part) -> None: ...

    def rule(self, title: str) -> None: ...

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None: ...

    def check(self, report: CheckReport) -> None: ...


class YesAnswers:
    """``--yes``: every proposal accepted; a question without a default is a usage error."""

    def text(self, question: str, default: str | None = None) -> str:
        if default is None:
            raise ConfigError(f"--yes: {question!r} has no default; give it as an option")
        return default

    def secret(self, question: str) -> str:
        raise ConfigError(
            "--yes: no secret given; use --password-env VAR, --password-command CMD or "
            "--password-file FILE (the password itself is never an option)"
        )

    def confirm(self, question: str, default: bool = True) -> bool:
        return default


@dataclass(frozen=True, slots=True)
class _Secret:
    """The chosen storage; ``typed`` is a password typed at the prompt (written at the end)."""

    ref: SecretRef
    typed: str | None = None
    file_path: Path | None = None

    def value(self, key: str) -> str:
        return self.typed if self.typed is not None else resolve_secret(self.ref, key)


@dataclass(frozen=True, slots=True)
class _Client:
    name: str
    proposal: ClientProposal


def _default_timezone() -> str:
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    with contextlib.suppress(OSError):
        link = os.readlink("/etc/localtime")
        candidates.append(link.partition("zoneinfo/")[2])
    for name in candidates:
        if name and "/" in name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                ZoneInfo(name)
                return name
    return "Europe/Paris"


# -- steps ----------------------------------------------------------------------------------


def _ask_email(opts: InitOptions, ask: Answers) -> str:
    email = opts.email
    for _ in range(LOGIN_ATTEMPTS):
        if email is None:
            email = ask.text("Your e-mail address")
        email = email.strip()
        if _EMAIL.match(email):
            return email
        if opts.yes or (opts.email is not None and email == opts.email.strip()):
            break
        email = None
    raise ConfigError(f"--email {email!r}: not an e-mail address such as claire@example.fr")


def _settings(
    opts: InitOptions, email: str, console: Screen, ask: Answers, found: Discovery
) -> tuple[AccountSettings, Preset | None]:
    for step in found.steps:
        console.line("  ", ("·", "dim"), f" {step}")
    hit: Found | None = found.found
    preset = hit.preset if hit else None
    if hit is not None:
        console.line(("found", "green"), f" {hit.host}:{hit.port} ({hit.tls}) from {hit.source}")
    elif opts.imap_host is None:
        console.line(("nothing found", "yellow"), " for this domain: give the IMAP server by hand.")
    host = opts.imap_host or (hit.host if hit else ask.text("IMAP server host name"))
    tls = opts.tls or (hit.tls if hit and not opts.imap_host else "implicit")
    if not (opts.imap_host or hit):
        tls = ask.text("TLS mode (implicit | starttls)", "implicit")
    port_default = hit.port if hit and not opts.imap_host else (993 if tls == "implicit" else 143)
    port = opts.imap_port or (
        port_default if hit else _int(ask.text("IMAP port", str(port_default)), "--imap-port")
    )
    username = opts.username or (hit.username if hit else ask.text("Login name", email))
    options: dict[str, Any] = {}
    if opts.ca_file:
        options["ca_file"] = opts.ca_file
    account = AccountSettings(ACCOUNT_NAME, "imap", host, port, tls, username, options=options)
    problems = []
    if tls not in ("implicit", "starttls", "none-loopback-only"):
        problems.append(f"--tls {tls!r}: must be implicit, starttls or none-loopback-only")
    if not 0 < port < 65536:
        problems.append(f"--imap-port {port}: not a TCP port")
    if problems:
        raise ConfigError(problems)
    return account, preset


def _int(text: str, key: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{key} {text!r}: expected a number such as 993") from None


def _secret_choice(
    opts: InitOptions,
    account: AccountSettings,
    preset: Preset | None,
    console: Screen,
    ask: Answers,
) -> _Secret:
    if preset is not None and preset.secret_help:
        console.line((f"{preset.name}:", "bold"), f" {preset.secret_help}")
    if preset is not None and preset.ca_hint:
        console.line(preset.ca_hint)
    given = [x for x in (opts.password_env, opts.password_command, opts.password_file) if x]
    if opts.oauth or opts.oauth_client_id:
        given.append("oauth")
    if len(given) > 1:
        raise ConfigError(
            "give only one of --password-env, --password-command, --password-file, --oauth"
        )
    if opts.oauth or opts.oauth_client_id:
        return _oauth_secret(opts, opts.oauth or (preset.oauth if preset else None), ask)
    if opts.password_env:
        if not _ENV_NAME.match(opts.password_env):
            raise ConfigError(f"--password-env {opts.password_env!r}: not a variable name")
        return _Secret(SecretRef(env=opts.password_env))
    if opts.password_command:
        return _Secret(SecretRef(command=opts.password_command))
    if opts.password_file:
        path = Path(opts.password_file).expanduser().resolve()
        return _Secret(SecretRef(file=str(path)))
    if opts.yes:
        YesAnswers().secret("")
    console.line("Where should the password live? It is never written in the configuration file.")
    console.line(
        "  ", ("file", "bold"), "    a file only you can read (0600), written by this wizard"
    )
    console.line("  ", ("env", "bold"), "     an environment variable set by your service manager")
    console.line(
        "  ",
        ("command", "bold"),
        " a command printing it, e.g. pass show mail/me or "
        "secret-tool lookup service responsewatch",
    )
    kinds = "file | env | command" + (" | oauth" if preset and preset.oauth else "")
    default_kind = "oauth" if preset and preset.oauth == "microsoft" else "file"
    while True:
        kind = ask.text(f"Secret storage ({kinds})", default_kind).lower()
        if kind == "oauth" and preset and preset.oauth:
            return _oauth_secret(opts, preset.oauth, ask)
        if kind == "env":
            name = ask.text("Environment variable name", "RESPONSEWATCH_PASSWORD")
            if _ENV_NAME.match(name):
                return _Secret(SecretRef(env=name))
            console.line((f"{name!r} is not a variable name", "red"))
        elif kind == "command":
            return _Secret(SecretRef(command=ask.text("Command printing the password")))
        elif kind == "file":
            default = Path("~/.config/responsewatch") / f"{account.name}.password"
            where = Path(ask.text("Password file", str(default))).expanduser().resolve()
            typed = ask.secret(f"Password (or app password) for {account.username}")
            return _Secret(SecretRef(file=str(where)), typed=typed, file_path=where)
        else:
            console.line("answer file, env or command")


def _oauth_secret(opts: InitOptions, provider: str | None, ask: Answers) -> _Secret:
    if provider not in ("google", "microsoft"):
        raise ConfigError(f"--oauth {provider!r}: must be google or microsoft")
    client_id = opts.oauth_client_id or ask.text(
        "OAuth client id (your app registration's; see the README)"
    )
    table: dict[str, str] = {"provider": provider, "client_id": client_id}
    if provider == "microsoft":
        table["tenant"] = "organizations"
    elif not opts.yes:
        command = ask.text("Command printing the OAuth client secret (blank: none)", "")
        if command:
            table["client_secret_command"] = command
    return _Secret(SecretRef(oauth2=table))


def _login(
    account: AccountSettings,
    secret: _Secret,
    console: Screen,
    ask: Answers,
    interactive: bool,
    connect: Callable[..., Any] | None,
) -> tuple[list[FolderRef], list[str], _Secret, Callable[[], ImapMailSource]]:
    """Log in as ``check`` does (same adapter, same account mapping); retry a typed password."""
    key = f"accounts[{account.name}]"
    for attempt in range(1, LOGIN_ATTEMPTS + 1):
        settings = replace(account, secret=secret.ref)
        imap = replace(imap_account(settings), fetch_body_bytes=0)
        if not secret.ref.oauth2:  # OAuth: the token cache `oauth login` just filled
            imap = replace(imap, secret=_constant(secret.value(key)))

        def source(imap: Any = imap) -> ImapMailSource:
            return ImapMailSource(imap, connect=connect)

        src = source()
        try:
            folders = src.folders()
            # Every folder name, for the missing-Sent advice, where the adapter offers it.
            names = src.server_folders() if isinstance(src, ServerListing) else []
        except AuthFailed as exc:
            if not (interactive and secret.typed is not None) or attempt == LOGIN_ATTEMPTS:
                raise
            console.line(("login refused", "red"), f" ({exc.detail}); try again.")
            secret = replace(secret, typed=ask.secret(f"Password for {account.username}"))
            continue
        finally:
            src.close()
        console.line(("logged in", "green"), f" as {account.username}")
        return folders, names, secret, source
    raise AssertionError("unreachable")


def _sign_in(
    account: str,
    oauth: Mapping[str, Any],
    console: Screen,
    sign_in: Callable[[str, Mapping[str, Any], Callable[[str], None]], object] | None,
) -> None:
    def show(text: str) -> None:
        console.line(text)

    if sign_in is not None:
        sign_in(account, oauth, show)
        return
    import webbrowser

    from responsewatch.adapters.oauth_tokens import oauth_login

    oauth_login(account, oauth, show, open_browser=webbrowser.open)


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def _print_folders(
    folders: Sequence[FolderRef], console: Screen, all_folders: Sequence[str] = ()
) -> FolderRef:
    rows = [(f.name, f.role or "-") for f in folders]
    console.table("Folders responsewatch will read", ("folder", "role"), rows)
    sent = next((f for f in folders if f.role == "sent"), None)
    if sent is not None:
        return sent
    names = list(all_folders) or [f.name for f in folders]
    guess = next((n for n in names if _SENT_NAMES.search(n)), "<your sent folder>")
    raise ConfigError(
        "no folder carries the \\Sent role (SPECIAL-USE) on this server, so your replies "
        f'cannot be measured; fix: rerun init, then write folders = ["INBOX", "{guess}"] in '
        f"the account (folders on the server: {', '.join(names)}), or mark the folder as Sent "
        "in your mail client"
    )


def _scan_sent(
    make_source: Callable[[], ImapMailSource], sent: FolderRef, me: frozenset[str], now: datetime
) -> list[ClientProposal]:
    """Read, read-only (EXAMINE + BODY.PEEK), the headers of the newest Sent messages."""
    since = now - timedelta(days=SCAN_DAYS)
    src = make_source()
    try:
        top = src.status(sent)
        start = Cursor(top.uidvalidity, max(0, top.last_uid - SCAN_MAX_MESSAGES))
        messages = []
        for raw in src.fetch_since(sent, start):
            if raw.internaldate is not None and raw.internaldate < since:
                continue
            messages.append(parse_message(raw.data, internaldate=raw.internaldate))
    finally:
        src.close()
    return propose_clients(messages, me=me, since=since)


def _choose_clients(
    proposals: Sequence[ClientProposal], opts: InitOptions, console: Screen, ask: Answers
) -> list[_Client]:
    if not proposals:
        console.line(
            f"No correspondents in the last {SCAN_DAYS} days of Sent mail: without "
            "[[clients]] every correspondent is reported by domain."
        )
        return []
    rows = [(str(i), p.key, str(p.messages)) for i, p in enumerate(proposals, 1)]
    console.table(f"Sent, last {SCAN_DAYS} days", ("#", "correspondent", "messages"), rows)
    top = min(opts.clients_from_sent, len(proposals))
    default = ",".join(str(i) for i in range(1, top + 1)) or "none"
    while True:
        picked = ask.text("Clients to watch (numbers, e.g. 1,3,4; none)", default)
        try:
            indexes = _indexes(picked, len(proposals))
            break
        except ValueError:
            console.line((repr(picked), "red"), f": give numbers from 1 to {len(proposals)}")
    chosen: list[_Client] = []
    names: set[str] = set()
    for i in indexes:
        p = proposals[i]
        name = ask.text(f"Name for {p.key}", client_name(p)) or client_name(p)
        while name in names:
            name = f"{name} ({p.key})"
        names.add(name)
        chosen.append(_Client(name, p))
    return chosen


def _indexes(text: str, n: int) -> list[int]:
    text = text.strip().lower()
    if text in ("", "none", "0", "-"):
        return []
    out: list[int] = []
    for part in re.split(r"[,\s]+", text):
        i = int(part)
        if not 1 <= i <= n:
            raise ValueError(part)
        if i - 1 not in out:
            out.append(i - 1)
    return out


# -- the configuration file ------------------------------------------------------------------


def _q(value: object) -> str:
    # A JSON string is a valid TOML basic string (same escapes, \uXXXX for controls).
    import json

    # ...except DEL, which JSON leaves raw and TOML refuses.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _c(code: str, comment: str) -> str:
    """A key and its comment, aligned as in config/example.toml (column 44)."""
    return f"{code:<42} # {comment}"


def render_config(
    *,
    email: str,
    name: str,
    timezone: str,
    language: str,
    account: AccountSettings,
    secret: SecretRef,
    clients: Sequence[_Client],
    scanned: bool,
) -> str:
    secret_line = (
        f"password_env = {_q(secret.env)}"
        if secret.env
        else f"password_command = {_q(secret.command)}"
        if secret.command
        else f"password_file = {_q(secret.file)}"
        if secret.file
        else ""
    )
    lines = [
        "# responsewatch configuration, written by `responsewatch init`.",
        '# Every key is documented in config/example.toml. Durations: "90s", "30m", "24h", "2d".',
        "# Secrets are NEVER written here: use password_command, password_env or password_file.",
        "",
        "[me]",
        _c(f"name = {_q(name)}", "used in the digest"),
        '# Every address and alias of yours: mail From them is "mine", mail To them is "to me".',
        f"addresses = [{_q(email)}]",
        _c(f"timezone = {_q(timezone)}", "IANA zone: business hours, --now without offset"),
        _c(f"language = {_q(language)}", "fr | en: digest and report wording"),
        "",
        "[sla]",
        'reply_within = "24h"                       # a reply later than this is a breach',
        'warn_at = "18h"                            # awaiting turns become due_soon from this age',
        'clock = "calendar"                         # calendar | business: the deciding clock',
        "count_cc = false                           # true: a client message with me only in Cc "
        "expects a reply",
        "",
        "[business_hours]",
        'days = ["mon", "tue", "wed", "thu", "fri"]',
        'start = "09:00"                            # local time in me.timezone',
        'end = "18:00"',
        '# holidays = { country = "FR" }            # `holidays` package codes',
        "",
        "# One table per client. An address beats a domain; a domain matches its subdomains.",
        "# With no [[clients]] at all, every correspondent is reported by domain.",
    ]
    if clients:
        source = f"# Proposed from the last {SCAN_DAYS} days of Sent mail (messages sent)."
        lines.append(source if scanned else "# Chosen at init.")
    for c in clients:
        key = "addresses" if c.proposal.is_address else "domains"
        lines += [
            "[[clients]]",
            f"name = {_q(c.name)}",
            _c(f"{key} = [{_q(c.proposal.key)}]", f"{c.proposal.messages} messages sent to it"),
            "",
        ]
    lines += [
        "# Mail accounts, all read strictly read-only (IMAP EXAMINE + BODY.PEEK).",
        "[[accounts]]",
        f"name = {_q(account.name)}",
        'type = "imap"',
        f"host = {_q(account.host)}",
        f"port = {account.port}",
        _c(f"tls = {_q(account.tls)}", "implicit | starttls | none-loopback-only"),
        f"username = {_q(account.username)}",
        secret_line,
    ]
    if secret.oauth2:
        inner = ", ".join(f"{k} = {_q(v)}" for k, v in secret.oauth2.items())
        lines[-1] = f"oauth2 = {{ {inner} }}"
        lines.insert(-1, "# XOAUTH2: `responsewatch oauth login` signs in; tokens cached 0600.")
    ca = account.options.get("ca_file")
    if ca:
        lines.append(_c(f"ca_file = {_q(ca)}", "trust this CA (self-signed servers)"))
    lines += [
        'folders = "auto"                           # SPECIAL-USE: INBOX, \\Sent, \\All, \\Archive',
        "",
        "[store]",
        'path = "~/.local/share/responsewatch/responsewatch.db"   # SQLite; facts only, no bodies',
        "",
        "[archive]",
        'path = "~/.local/share/responsewatch/archive"  # written-agreement evidence archive',
        "detect = true",
        "",
        "[metrics]",
        'listen = "127.0.0.1:9877"                  # Prometheus /metrics',
        "",
        "[digest]",
        "enabled = false                            # true once [digest] smtp is set:",
        f"to = {_q(email)}",
        '# smtp = { host = "smtp.example.net", port = 465, tls = "implicit", username = "...", '
        'password_command = "..." }',
        "",
    ]
    return "\n".join(lines)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename), mode 0600.

    Interrupted at any point (Ctrl-C, full disk), the old file is intact and no temp file
    is left: the rename is the only step that makes the new content visible.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _step(console: Screen, title: str) -> Iterator[None]:
    console.rule(title)
    yield


def run_init(
    opts: InitOptions,
    console: Screen,
    ask: Answers,
    *,
    resolver: Resolver | None = None,
    fetch: Fetch | None = None,
    connect: Callable[..., Any] | None = None,
    now: datetime | None = None,
    check: Callable[[Path], CheckReport] | None = None,
    sign_in: Callable[[str, Mapping[str, Any], Callable[[str], None]], object] | None = None,
) -> int:
    """The whole wizard; returns the exit code of the final ``check``."""
    config = opts.config.expanduser()
    if config.exists() and not (
        opts.force or (not opts.yes and ask.confirm(f"{config} exists. Replace it?", False))
    ):
        raise ConfigError(f"--config {config}: exists; give --force to replace it")
    interactive = not opts.yes
    with _step(console, "1. Account"):
        email = _ask_email(opts, ask)
        if opts.imap_host:
            found = Discovery(steps=["--imap-host given: discovery skipped"])
        else:
            console.line(f"Looking up the settings for {email.rpartition('@')[2]} ...")
            found = discover(email, resolver=resolver, fetch=fetch)
        account, preset = _settings(opts, email, console, ask, found)
    with _step(console, "2. Secret"):
        secret = _secret_choice(opts, account, preset, console, ask)
    if secret.ref.oauth2:
        with _step(console, "2b. OAuth sign-in"):
            _sign_in(account.name, secret.ref.oauth2, console, sign_in)
    with _step(console, "3. Login and folders"):
        folders, names, secret, make_source = _login(
            account, secret, console, ask, interactive, connect
        )
        sent = _print_folders(folders, console, names)
    me = frozenset(
        {email.lower()} | ({account.username.lower()} if "@" in account.username else set())
    )
    with _step(console, f"4. Clients (headers of the last {SCAN_DAYS} days of {sent.name})"):
        proposals = _scan_sent(make_source, sent, me, now or datetime.now(UTC))
        clients = _choose_clients(proposals, opts, console, ask)
    language = opts.language or ask.text("Language of the digest and reports (fr | en)", "fr")
    if language not in ("fr", "en"):
        raise ConfigError(f"--language {language!r}: must be fr or en")
    timezone = opts.timezone or ask.text("Time zone (IANA)", _default_timezone())
    name = ask.text("Your name (for the digest)", email.partition("@")[0].replace(".", " ").title())
    text = render_config(
        email=email,
        name=name,
        timezone=timezone,
        language=language,
        account=account,
        secret=secret.ref,
        clients=clients,
        scanned=True,
    )
    # The file we write must load: a problem found now is reported before anything is written.
    settings_from_mapping(tomllib.loads(text), base=config.parent.resolve(), source=config)
    with _step(console, "5. Write and check"):
        if secret.typed is not None and secret.file_path is not None:
            write_private(secret.file_path, secret.typed + "\n")
            console.line(("wrote", "green"), f" the password to {secret.file_path} (0600)")
        write_private(config, text)
        console.line(("wrote", "green"), f" {config} (0600)")
        if check is None:
            from responsewatch.app.commands import check as check_command

            check = check_command
        checked = check(config)
        console.check(checked)
    console.line("")
    console.line("Next:")
    console.line(f"  responsewatch sync --config {config} --once     # first backfill")
    console.line(f"  responsewatch report --config {config}")
    console.line(f"  responsewatch run --config {config}             # the daemon")
    console.line(
        "  as a service: deploy/systemd/responsewatch.service (systemd) or "
        "docker compose -f deploy/compose.yaml up -d (see the README, Deployment)"
    )
    return checked.exit_code


def oauth_login_command(
    config: Path,
    account_name: str,
    console: Screen,
    *,
    open_browser: Callable[[str], object] | None = None,
) -> list[str]:
    """``oauth login``: sign ACCOUNT in once (device code or browser); tokens cached 0600."""
    from responsewatch.adapters.oauth_tokens import oauth_login
    from responsewatch.config import load_settings

    settings = load_settings(config)
    account = next((a for a in settings.accounts if a.name == account_name), None)
    if account is None:
        names = ", ".join(a.name for a in settings.accounts) or "none"
        raise ConfigError(f"--account {account_name!r}: no such account (accounts: {names})")
    oauth = account.secret.oauth2
    if not oauth or not oauth.get("provider"):
        raise ConfigError(
            f'accounts[{account_name}].oauth2: set oauth2 = {{ provider = "microsoft" | '
            '"google", client_id = "..." } to sign in with OAuth'
        )

    def show(text: str) -> None:
        if text.startswith("http"):
            console.line("Open this address in a browser and sign in:")
        console.line(text)

    cache = oauth_login(account_name, oauth, show, open_browser=open_browser)
    return [
        f"signed in: tokens cached in {cache} (0600), refreshed silently from now on",
        f"next: responsewatch check --config {config}",
    ]
