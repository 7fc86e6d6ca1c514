"""The config `init` writes: loadable TOML for any names, the secret never in it, atomic 0600."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.app.init_app import _Client, render_config, write_private
from responsewatch.config import AccountSettings, SecretRef, settings_from_mapping
from responsewatch.core.onboarding import ClientProposal

ACCOUNT = AccountSettings("main", "imap", "imap.example.net", 993, "implicit", "me@example.net")


@settings(max_examples=40, deadline=None)
@given(
    name=st.text(max_size=40),
    client_names=st.lists(st.text(min_size=1, max_size=30), max_size=4, unique=True),
    command=st.text(min_size=1, max_size=40),
)
def test_any_names_render_to_toml_that_loads_back_the_same(
    name: str, client_names: list[str], command: str
) -> None:
    clients = [
        _Client(n, ClientProposal(f"c{i}.example.org", False, 3))
        for i, n in enumerate(client_names)
    ]
    text = render_config(
        email="me@example.net", name=name, timezone="Europe/Paris", language="en",
        account=ACCOUNT, secret=SecretRef(command=command), clients=clients, scanned=True,
    )  # fmt: skip
    raw = tomllib.loads(text)
    assert raw["me"]["name"] == name
    assert [c["name"] for c in raw.get("clients", [])] == client_names
    assert raw["accounts"][0]["password_command"] == command
    s = settings_from_mapping(raw, base=Path("/tmp"))
    assert [c.name for c in s.rules.clients] == client_names


def test_write_private_is_0600_and_interrupted_writes_leave_nothing(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "rw.toml"
    write_private(target, "a = 1\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700

    real_replace = os.replace

    def interrupted(*_a: object) -> None:
        raise KeyboardInterrupt

    os.replace = interrupted  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            write_private(target, "a = 2\n")
    finally:
        os.replace = real_replace
    assert target.read_text() == "a = 1\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["rw.toml"]
