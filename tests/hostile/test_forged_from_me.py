"""A forged "From: me" (the receiving server recorded my domain's authentication failing)
opens and closes nothing, and is reported as suspicious."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.adapters.render import CATALOG, render_digest
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.pipeline import compute
from responsewatch.app.sync import sync_source
from responsewatch.cli import app
from responsewatch.core.digest import build_digest
from responsewatch.core.forged import AUTH_FAIL, auth_failed
from responsewatch.core.parsing import parse_message
from responsewatch.core.rules import ClientRule, Rules
from responsewatch.ports import FolderRef, RawMessage
from tests.support.build import HOUR, ME, T0, raw
from tests.unit.test_insights import run

MY_DOMAIN = "martin-conseil.fr"
MX = f"mx.{MY_DOMAIN};"
FAILS = {
    "dmarc": f"{MX} spf=none; dkim=none; dmarc=fail (p=none) header.from={MY_DOMAIN}",
    "spf": f"{MX} spf=fail (not permitted) smtp.mailfrom={ME}; dkim=none",
    "spf_foreign_dkim": f"{MX} spf=fail smtp.mailfrom={ME}; dkim=pass header.d=evil.test",
}
PASSES = {
    "none": None,
    "spf_with_my_dkim": f"{MX} spf=fail smtp.mailfrom={ME}; dkim=pass header.d={MY_DOMAIN}",
    "all_pass": f"{MX} spf=pass smtp.mailfrom={ME}; dmarc=pass header.from={MY_DOMAIN}",
    "other_domain_fails": "mx.x; dmarc=fail header.from=acme.fr; spf=fail smtp.mailfrom=a@acme.fr",
    "softfail": f"{MX} spf=softfail smtp.mailfrom={ME}",
}
RULES = Rules(me=frozenset({ME}), clients=(ClientRule("acme", domains=("acme.fr",)),))
NOW = T0 + 30 * HOUR


def _mailbox(results: str | None) -> dict[str, bytes]:
    extra = [f"Authentication-Results: {results}"] if results else []
    return {
        "ask": raw("ask@acme.fr", "jean@acme.fr", [ME], T0, subject="Budget", received=T0),
        # A third party writes "From: me", "RE: <the client's subject>", no references.
        "forged": raw(
            "forged@evil.test",
            f"Claire Martin <{ME}>",
            ["jean@acme.fr"],
            T0 + HOUR,
            subject="RE: Budget",
            extra=extra,
        ),
    }


def _analysis(box: dict[str, bytes]):  # type: ignore[no-untyped-def]
    messages = {m.message_id: m for m in (parse_message(d) for d in box.values())}
    analysis, _ = compute(messages, RULES, now=NOW)
    return analysis


@pytest.mark.parametrize("case", sorted(FAILS))
def test_forged_from_me_closes_nothing_and_is_counted(case: str) -> None:
    a = _analysis(_mailbox(FAILS[case]))
    assert a.replies == () and a.client_replies == ()
    assert [w.first_unanswered_message_id for w in a.awaiting] == ["ask@acme.fr"]
    assert a.awaiting[0].state.value == "overdue"
    assert a.totals.suspicious == 1
    (acme,) = a.clients
    assert acme.my_turns == 0  # it opened no turn of mine either


@pytest.mark.parametrize("case", sorted(PASSES))
def test_authenticated_or_unrecorded_mail_from_me_stays_mine(case: str) -> None:
    a = _analysis(_mailbox(PASSES[case]))
    assert [r.reply_message_id for r in a.replies] == ["forged@evil.test"]
    assert a.awaiting == () and a.totals.suspicious == 0


def test_a_forged_message_cannot_merge_two_conversations() -> None:
    box = {
        "a": raw("a@acme.fr", "jean@acme.fr", [ME], T0, subject="Alpha", received=T0),
        "b": raw("b@acme.fr", "jean@acme.fr", [ME], T0, subject="Beta", received=T0),
        "forged": raw(
            "f@evil.test",
            ME,
            ["x@evil.test"],
            T0 + HOUR,
            refs=["a@acme.fr", "b@acme.fr"],
            extra=[f"Authentication-Results: {FAILS['dmarc']}"],
        ),
        "reply": raw("r@m", ME, ["jean@acme.fr"], T0 + 2 * HOUR, refs=["a@acme.fr"]),
    }
    a = _analysis(box)
    assert [r.message_id for r in a.replies] == ["a@acme.fr"]  # only Alpha's turn closed
    assert [w.first_unanswered_message_id for w in a.awaiting] == ["b@acme.fr"]


def test_sent_folder_copies_stay_mine(tmp_path: Path) -> None:
    box = _mailbox(FAILS["dmarc"])
    inbox, sent = FolderRef("m", "INBOX", "inbox"), FolderRef("m", "Sent", "sent")
    src = MemoryMailSource(
        "m",
        {
            inbox: [RawMessage(inbox, 1, box["ask"], T0)],
            sent: [RawMessage(sent, 1, box["forged"], T0 + HOUR)],
        },
    )
    store = SqliteStore.open(tmp_path / "s.db")
    try:
        sync_source(src, store, now=lambda: NOW)
        messages = {m.message_id: m for m in store.messages()}
    finally:
        store.close()
    assert AUTH_FAIL not in messages["forged@evil.test"].warnings
    analysis, _ = compute(messages, RULES, now=NOW)
    assert len(analysis.replies) == 1 and analysis.totals.suspicious == 0


def test_json_has_suspicious_only_when_non_zero(tmp_path: Path) -> None:
    runner = CliRunner()
    docs = {}
    for name, results in (("forged", FAILS["dmarc"]), ("plain", None)):
        folder = tmp_path / name
        folder.mkdir()
        for key, data in _mailbox(results).items():
            (folder / f"{key}.eml").write_bytes(data)
        out = runner.invoke(
            app,
            [
                "analyze",
                str(folder),
                "--me",
                ME,
                "--client",
                "acme=acme.fr",
                "-f",
                "json",
                "--now",
                NOW.isoformat(),
            ],
        )
        assert out.exit_code == 0, out.output
        docs[name] = json.loads(out.stdout)
    assert docs["forged"]["totals"]["suspicious"] == 1
    assert list(docs["plain"]["totals"]) == ["messages", "conversations", "automated", "undated"]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_digest_says_so(language: str) -> None:
    a, ins = run([parse_message(d) for d in _mailbox(FAILS["spf"]).values()], RULES, NOW)
    rendered = render_digest(build_digest(a, ins, RULES, now=NOW), language)
    expected = CATALOG[language]["suspicious_note"].format(n=1)
    assert expected in rendered.text
    assert CATALOG[language]["suspicious"] in rendered.html


@given(st.lists(st.text(max_size=300), max_size=12), st.text(max_size=40))
def test_auth_results_parsing_never_raises(values: list[str], domain: str) -> None:
    assert auth_failed(values, domain) in (True, False)


def test_hostile_auth_results_are_bounded() -> None:
    start = datetime.now(UTC)
    huge = ["x; " + "dkim=pass header.d=a.b (" * 20_000] * 1000
    assert auth_failed(huge, MY_DOMAIN) is False
    assert datetime.now(UTC) - start < timedelta(seconds=2)
