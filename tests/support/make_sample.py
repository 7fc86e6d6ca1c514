"""Regenerate the bundled demo mailbox: python -m tests.support.make_sample"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.support.mailgen import cadence_client, generate, recent_requests, write_mbox

TARGET = (
    Path(__file__).resolve().parents[2] / "src" / "responsewatch" / "sample" / "consultant.mbox"
)

if __name__ == "__main__":
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.unlink(missing_ok=True)
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # app/commands.py SAMPLE_NOW
    messages = generate(36, seed=2026, start=datetime(2026, 9, 1, tzinfo=UTC), span_days=70)
    messages += recent_requests(now, [2.5, 5, 20, 22.5])
    messages += cadence_client()
    write_mbox(messages, TARGET)
    print(f"wrote {len(messages)} messages to {TARGET}")
