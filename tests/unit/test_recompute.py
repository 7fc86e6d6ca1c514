"""The daemon's recompute in a child process gives exactly the in-process analysis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.support.mailgen import ME, generate

from responsewatch.app.bootstrap import bootstrap
from responsewatch.app.recompute import analysis_in_child
from responsewatch.config import settings_from_mapping
from responsewatch.core.parsing import parse_message


def test_child_process_analysis_equals_in_process(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {
            "me": {"addresses": [ME]},
            "store": {"path": str(tmp_path / "s.db")},
            "clients": [{"name": "Acme", "domains": ["acme.fr"]}],
        }
    )
    app = bootstrap(settings)
    app.store.add_messages(parse_message(g.data) for g in generate(30, seed=9))
    app.store.add_ack(
        next(iter(app.store.messages())).message_id, "t", datetime(2026, 9, 2, tzinfo=UTC)
    )
    at = datetime(2026, 12, 1, tzinfo=UTC)
    expected = app.analysis(at)[0]
    app.close()
    got = analysis_in_child(settings, at)
    assert got == expected
    assert got.totals.messages > 100 and got.replies
