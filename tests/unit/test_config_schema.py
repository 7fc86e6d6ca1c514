"""The declarative schema: every problem at once, named one way, never twice."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from responsewatch.config import KEYS, settings_from_mapping
from responsewatch.config.schema import schema_problems
from responsewatch.errors import ConfigError

ME = {"addresses": ["claire@martin-conseil.fr"]}
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"


def problems(raw: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(raw)
    return list(info.value.problems)


def test_wrong_types_are_reported_once_each_by_key() -> None:
    found = problems(
        {
            "me": ME,
            "sla": {"reply_within": 24},
            "metrics": {"top_clients": "50"},
            "digest": {"smtp": {"host": "h", "timeout": "soon", "port": True}},
            "accounts": [{"name": "main", "type": "imap", "host": "h", "port": "993"}],
            "store": 5,
        }
    )
    for key in (
        "sla.reply_within",
        "metrics.top_clients",
        "digest.smtp.timeout",
        "digest.smtp.port",
        "accounts[main].port",
        "store",
    ):
        hits = [p for p in found if p.startswith(key + ":")]
        assert len(hits) == 1, (key, found)
    assert "store: must be a table: [store]" in found


def test_graph_keys_are_typed_by_the_schema() -> None:
    found = problems(
        {
            "me": ME,
            "accounts": [
                {"name": "m365", "type": "graph", "tenant_id": 7, "batch_size": "x", "tennant": 1}
            ],
        }
    )
    assert any(p.startswith("accounts[m365].tenant_id: expected str") for p in found)
    assert any(p.startswith("accounts[m365].batch_size: expected int") for p in found)
    assert "accounts[m365].tennant: unknown key; did you mean 'tenant_id'?" in found


def test_listen_is_checked_as_the_servers_parse_it() -> None:
    # The metrics server refuses an empty host; the config used to accept ":9877".
    assert any(
        p.startswith("metrics.listen:")
        for p in problems({"me": ME, "metrics": {"listen": ":9877"}})
    )
    assert any(
        p.startswith("web.listen:") for p in problems({"me": ME, "web": {"listen": "h:99999"}})
    )


def test_the_example_passes_the_schema() -> None:
    assert schema_problems(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))) == []


_TABLES = sorted(
    t for t in KEYS if t and "." not in t and t not in ("clients", "accounts", "leave")
)


@given(
    st.sampled_from(_TABLES),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
)
def test_any_unknown_key_is_named_with_its_table(table: str, key: str) -> None:
    found = schema_problems({"me": ME, table: {key: 1}} if table != "me" else {"me": {key: 1}})
    if key in KEYS[table]:
        assert all(k != f"{table}.{key}" or "unknown" not in w for k, w in found)
    else:
        assert any(
            k == f"{table}.{key}" and ("unknown key" in w or "secrets" in w) for k, w in found
        )
