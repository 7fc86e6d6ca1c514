"""Network rules shared by the configuration and the adapters (one definition each)."""

from __future__ import annotations

import ipaddress

__all__ = ["TLS_MODES", "account_key", "is_loopback", "parse_listen"]

# How IMAP and SMTP connections are secured; plain text only to loopback hosts.
TLS_MODES = ("implicit", "starttls", "none-loopback-only")


def is_loopback(host: str) -> bool:
    """True for hosts that cannot leave this machine: ``localhost`` and loopback addresses
    (127.0.0.0/8, ::1, and IPv4-mapped 127.x). Plain-text IMAP/SMTP is allowed only there.

    Other names (``localhost.localdomain``, ``*.localhost``) are refused: what they resolve
    to is up to /etc/hosts or DNS, so a password could travel in clear to another machine.
    """
    name = host.strip().rstrip(".").lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def account_key(name: str) -> str:
    """How messages name an account's settings: ``accounts[main]`` (then ``.tls`` etc.)."""
    return f"accounts[{name}]"


def parse_listen(listen: str) -> tuple[str, int] | None:
    """``127.0.0.1:9877`` / ``[::1]:9877`` / ``0.0.0.0:9877`` -> (host, port); None when it
    is not HOST:PORT. The config checks ``metrics.listen`` and ``web.listen`` with it and the
    servers bind what it returns, so both read the same address."""
    host, sep, port = listen.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return None
    return host, int(port)
