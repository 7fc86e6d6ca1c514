"""The out-of-office reader on mail we did not write: every auto-reply of the shared corpora.

Read by hand: the real corpora hold one out-of-office reply (Enron), the automated set one
("Away until May 5") and about 220 delivery reports and other robots' replies, which must
announce no absence (their quoted Date headers and SMTP codes 5.1.1 are not leave).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from responsewatch.adapters.files import ReadStats, read_messages
from responsewatch.core.parsing import parse_message


def test_only_real_out_of_office_replies_yield_a_period(corpora: Path) -> None:
    found: dict[str, tuple[date | None, date]] = {}
    auto_replies = 0
    for name in ("real", "automated", "malformed", "threading", "localized"):
        for item in read_messages([corpora / name], ReadStats()):
            msg = parse_message(item.data)
            auto_replies += msg.auto_reply
            if msg.absence is not None:
                found[msg.subject] = msg.absence
    assert auto_replies > 200
    assert found == {
        "OUT OF THE OFFICE": (date(2001, 9, 17), date(2001, 9, 17)),
        "Away until May 5": (None, date(2005, 5, 4)),  # "returning to the office on May 5th"
    }
