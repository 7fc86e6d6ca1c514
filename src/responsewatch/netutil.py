"""Network rules shared by the configuration and the adapters (one definition each)."""

from __future__ import annotations

import ipaddress

__all__ = ["account_key", "is_loopback"]


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
