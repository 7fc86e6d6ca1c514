"""back_from_leave and update_due through the real NudgeService: real Apprise ``json://`` to a
local HTTP receiver, the nudges table in a real SQLite store, and a restart (a new service on
the same store) sending nothing again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.servers.webhook import Webhook
from tests.support.build import ME, msg

from responsewatch.adapters.notify import Retry
from responsewatch.adapters.nudge_log import NudgeLog
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.notify_app import NudgeService, make_channels
from responsewatch.app.pipeline import compute
from responsewatch.config import Settings, load_settings
from responsewatch.core.models import Analysis

HOST = "127.0.0.1"
FAST = Retry(attempts=2, wait_initial=0.01, wait_max=0.05, timeout=10)
SATURDAY = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)  # the day after the leave
BACK = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 Paris: business opens
MAILS = [
    msg("a1@acme.fr", "jean@acme.fr", at=datetime(2026, 11, 10, 9, 0, tzinfo=UTC), subject="Devis"),
    msg(
        "a2@acme.fr", "jean@acme.fr", at=datetime(2026, 11, 11, 9, 0, tzinfo=UTC), subject="Relance"
    ),
    msg("u1@rw", ME, ["eve@bolt.com"], datetime(2026, 11, 3, 9, 0, tzinfo=UTC), subject="Point"),
]


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def settings(tmp_path: Path, hook: Webhook) -> Settings:
    secret = tmp_path / "notify.urls"
    secret.write_text(f"json://{HOST}:{hook.port}/hook\n")
    secret.chmod(0o600)
    path = tmp_path / "rw.toml"
    path.write_text(
        f'[me]\naddresses = ["{ME}"]\nlanguage = "en"\ntimezone = "Europe/Paris"\n'
        '[business_hours]\nholidays = { country = "FR" }\n'
        '[[leave]]\nfrom = "2026-11-09"\nto = "2026-11-13"\nlabel = "Autumn"\n'
        '[[clients]]\nname = "Acme"\ndomains = ["acme.fr"]\n'
        '[[clients]]\nname = "Bolt"\ndomains = ["bolt.com"]\nreport_every = "14d"\n'
        f'[store]\npath = "{tmp_path / "rw.db"}"\n[archive]\npath = "{tmp_path / "archive"}"\n'
        f'[notify]\nurls_file = "{secret}"\n'
        'kinds = ["due_soon", "overdue", "update_due", "back_from_leave"]\n'
    )
    s = load_settings(path)
    store = SqliteStore.open(s.store_path)
    store.add_messages(MAILS, account="mail")
    store.close()
    return s


def service(s: Settings, clock: Clock) -> NudgeService:
    return NudgeService(s, make_channels(s), NudgeLog(s.store_path), now=clock, retry=FAST)


def analysis(s: Settings, now: datetime) -> Analysis:
    return compute({m.message_id: m for m in MAILS}, s.rules, now=now)[0]


def test_back_from_leave_once_on_the_first_business_morning_and_not_after_restart(
    tmp_path: Path, hook: Webhook
) -> None:
    s = settings(tmp_path, hook)
    clock = Clock(datetime(2026, 11, 12, 10, 0, tzinfo=UTC))  # on leave
    svc = service(s, clock)
    assert svc.tick(analysis(s, clock.at), clock.at) == []  # paused turns: nothing
    clock.at = SATURDAY
    assert svc.tick(analysis(s, clock.at), clock.at) == []  # quiet hours hold the summary
    clock.at = BACK
    [sent] = svc.tick(analysis(s, clock.at), clock.at)
    assert sent.ok and len(hook.received) == 1
    body = hook.received[0]["body"]
    # On the calendar clock the weekend after the leave counts: both turns are overdue now,
    # in the same notification as the summary.
    assert body["title"] == "back from leave: 2 replies waiting · 2 replies overdue: Acme"
    assert "  Acme: 2 (oldest: Devis)" in body["message"]
    clock.at += timedelta(minutes=5)
    assert svc.tick(analysis(s, clock.at), clock.at) == []
    svc.log.close()
    # A restart: a new service on the same store sends nothing again.
    again = service(s, clock)
    clock.at += timedelta(minutes=5)
    assert again.tick(analysis(s, clock.at), clock.at) == []
    assert len(hook.received) == 1
    # Bolt's cadence: u1 on Tue 3 Nov + 14 d + 5 leave days = Sunday 22 Nov (calendar clock),
    # nudged once, on the business day before it (Friday, same local time).
    due = analysis(s, clock.at).cadence[0].update_due_at
    assert due == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    clock.at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # Friday 10:00 Paris
    [update] = again.tick(analysis(s, clock.at), clock.at)
    assert update.ok and [n.kind.value for n in update.nudges] == ["update_due"]
    assert hook.received[-1]["body"]["title"] == "1 client update due: Bolt"
    again.log.close()
    third = service(s, clock)
    clock.at += timedelta(hours=1)
    assert third.tick(analysis(s, clock.at), clock.at) == []
    third.log.close()
