"""Write responsewatch TOML configurations pointing at a test Dovecot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tests.servers.courier import Courier
from tests.servers.cyrus import Cyrus
from tests.servers.dovecot import HOST, Dovecot, MailUser

__all__ = ["imap_account_toml", "write_config"]

ME = "claire@martin-conseil.fr"
CLIENTS = """
[[clients]]
name = "Acme"
domains = ["acme.fr"]
reply_within = "8h"
warn_at = "6h"

[[clients]]
name = "Bolt"
domains = ["bolt-industries.com"]

[[clients]]
name = "Celsius"
domains = ["celsius-energie.fr"]

[[clients]]
name = "Dune"
addresses = ["paul.dune@gmail.com"]
"""


def _q(value: object) -> str:
    return json.dumps(str(value))  # a TOML basic string is a JSON string for our values


def imap_account_toml(
    server: Dovecot | Cyrus | Courier,
    user: MailUser,
    directory: Path,
    *,
    name: str = "mail",
    tls: str = "none-loopback-only",
    password: str | None = None,
    batch_size: int | None = None,
    folders: Sequence[str] | None = None,
) -> str:
    """One [[accounts]] table; the password goes to a 0600 file next to the config."""
    secret = directory / f"{name}.password"
    secret.write_text((password if password is not None else user.password) + "\n")
    secret.chmod(0o600)
    implicit = isinstance(server, Dovecot) and tls == "implicit"
    port = server.imaps_port if implicit else server.imap_port
    lines = [
        "[[accounts]]",
        f"name = {_q(name)}",
        'type = "imap"',
        f"host = {_q(HOST)}",
        f"port = {port}",
        f"tls = {_q(tls)}",
        f"username = {_q(user.name)}",
        f"password_file = {_q(secret)}",
    ]
    if tls != "none-loopback-only":
        assert isinstance(server, Dovecot), "only the test Dovecot serves TLS"
        lines.append(f"ca_file = {_q(server.cert_path)}")
    if batch_size is not None:
        lines.append(f"batch_size = {batch_size}")
    if folders is not None:
        lines.append(f"folders = {json.dumps(list(folders))}")
    return "\n".join(lines) + "\n"


def write_config(
    directory: Path,
    accounts: Sequence[str] = (),
    *,
    store: Path | None = None,
    daemon: str = "",
    name: str = "responsewatch.toml",
    archive: Path | None = None,
) -> Path:
    path = directory / name
    path.write_text(
        f"""\
[me]
name = "Claire Martin"
addresses = [{_q(ME)}]
timezone = "Europe/Paris"

[business_hours]
holidays = {{ country = "FR" }}
{CLIENTS}
[store]
path = {_q(store or directory / "responsewatch.db")}

[archive]
path = {_q(archive or directory / "archive")}

[metrics]
listen = "127.0.0.1:0"

[web]
listen = "127.0.0.1:0"

[daemon]
{daemon}

"""
        + "\n".join(accounts)
    )
    return path
