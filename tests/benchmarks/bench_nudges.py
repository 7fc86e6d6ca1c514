"""Delay from a threshold crossing to delivery, with the shipped 10 s nudge tick and the
default 1 min recompute: the real daemon on a real Dovecot, real Apprise to a local
``json://`` receiver.

Client messages are stored before the daemon starts, with INTERNALDATEs chosen so that
their `warn_at` falls at staggered moments while it runs (so the crossings land at every
phase of the tick, and no recompute happens in between: the tick alone re-evaluates the
states). Prints each delay, the median, and as an in-run baseline the tick interval (a
fixed-interval check has an expected delay of half of it).
Usage: python tests/benchmarks/bench_nudges.py [--runs 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.app import notify_app  # noqa: E402
from responsewatch.app.daemon import run_daemon  # noqa: E402
from tests.servers.config import ME, imap_account_toml  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402
from tests.servers.webhook import Webhook  # noqa: E402

WARN = timedelta(hours=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--spacing", type=float, default=3.7)
    args = parser.parse_args()
    server, hook = Dovecot.start_new(), Webhook()
    tmp = Path(tempfile.mkdtemp(prefix="bench-nudges-"))
    try:
        user = server.add_user()
        first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=15)
        crossings: dict[str, datetime] = {}
        for i in range(args.runs):
            crossing = first + timedelta(seconds=round(i * args.spacing))
            crossings[f"Sujet {i}"] = crossing
            mail = (f"From: jean@acme.fr\r\nTo: {ME}\r\nSubject: Sujet {i}\r\n"
                    f"Message-ID: <bn{i}@acme.fr>\r\n\r\nUne question ?\r\n").encode()  # fmt: skip
            server.append(user, "INBOX", mail, crossing - WARN)
        secret = tmp / "urls"
        secret.write_text(f"json://{hook.url.removeprefix('http://')}\n")
        config = tmp / "rw.toml"
        config.write_text(
            f'[me]\naddresses = ["{ME}"]\n[sla]\nwarn_at = "1h"\nreply_within = "2h"\n'
            '[[clients]]\nname = "Acme"\ndomains = ["acme.fr"]\n'
            f'[store]\npath = "{tmp / "rw.db"}"\n[archive]\npath = "{tmp / "archive"}"\n'
            f'[metrics]\nlisten = "127.0.0.1:0"\n[notify]\nurls_file = "{secret}"\n'
            'quiet = "never"\n' + imap_account_toml(server, user, tmp)
        )
        stop = threading.Event()
        thread = threading.Thread(target=run_daemon, args=(config,), kwargs={"stop": stop})
        thread.start()
        delivered: dict[str, float] = {}
        deadline = time.monotonic() + 30 + args.runs * args.spacing
        while len(delivered) < args.runs and time.monotonic() < deadline:
            for r in list(hook.received):
                for subject in crossings:
                    if subject not in delivered and f": {subject}" in r["body"]["message"]:
                        delivered[subject] = r["at"]
            time.sleep(0.02)
        stop.set()
        thread.join(15)
    finally:
        hook.close()
        server.close()
    delays = [delivered[s] - crossings[s].timestamp() for s in crossings if s in delivered]
    for subject in crossings:
        got = delivered.get(subject)
        shown = f"{got - crossings[subject].timestamp():6.2f} s" if got else "   not delivered"
        print(f"{subject}: crossing -> delivery {shown}")
    tick = notify_app.NOTIFY_EVERY_S
    median = statistics.median(delays)
    print(f"median {median:.2f} s over {len(delays)} crossings (max {max(delays):.2f} s); "
          f"baseline tick {tick:.0f} s: median/tick = {median / tick:.2f} "
          f"(0.5 expected for a fixed-interval check)")  # fmt: skip


if __name__ == "__main__":
    main()
