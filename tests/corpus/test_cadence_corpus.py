"""Reporting cadence on real mail (Enron): without a cadence the JSON document is the one
the cadence code path never touched; with one, only the three cadence keys are added."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import responsewatch.core.latency as latency
from responsewatch.app.pipeline import compute, load_corpus
from responsewatch.app.report import analysis_json
from responsewatch.core.rules import Rules, Sla
from tests.corpus.test_parsing_corpus import ENRON

NOW = datetime(2002, 3, 1, tzinfo=UTC)
CADENCE_KEYS = ("last_update_at", "update_due_at", "updates_late")


def document(messages: Any, rules: Rules) -> str:
    return json.dumps(analysis_json(compute(messages, rules, now=NOW)[0]), ensure_ascii=False)


@pytest.mark.parametrize("user", sorted(ENRON))
def test_cadence_leaves_the_json_contract_alone(
    corpora: Path, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = load_corpus([corpora / "real/enron" / user]).messages
    plain_rules = Rules(me=frozenset({ENRON[user]}))
    plain = document(messages, plain_rules)
    with monkeypatch.context() as patched:
        patched.setattr(latency, "cadences", lambda *_a, **_k: ())
        assert document(messages, plain_rules) == plain  # cadence path off: same bytes

    weekly = Rules(me=plain_rules.me, sla=Sla(report_every_s=7 * 86400.0))
    doc = json.loads(document(messages, weekly))
    with_cadence = [c for c in doc["clients"] if "updates_late" in c]
    # sla.report_every applies to every client, correspondents included.
    assert len(with_cadence) == len(doc["clients"]) > 10
    assert sum(c["last_update_at"] is not None for c in with_cadence) > 10
    assert all(c["updates_late"] >= 1 for c in with_cadence if c["update_due_at"])
    for row in doc["clients"]:
        for key in CADENCE_KEYS:
            del row[key]
    # Updates never open or close a turn: everything else is byte-identical.
    assert json.dumps(doc, ensure_ascii=False) == plain
