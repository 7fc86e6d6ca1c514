"""Render docs/status.png: the status page of the demo store, in headless Chromium.

Syncs the bundled sample mailbox (as `responsewatch demo` does) into a throwaway store and
archive, publishes its analysis to the status page, serves it on a free loopback port and
screenshots it. The page's script is served empty, so the countdowns show the server's
figures for the demo's "now" (the script would count from the real clock). Not run in CI.

Usage: python tests/support/render_status.py [--out docs/status.png] [--lang fr|en]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from importlib import resources  # noqa: E402

from responsewatch.adapters.web import WebServer  # noqa: E402
from responsewatch.app import commands  # noqa: E402
from responsewatch.app.bootstrap import FixedClock, bootstrap  # noqa: E402
from responsewatch.app.status_app import (  # noqa: E402
    StatusSite,
    StatusState,
    read_agreements,
    read_health,
)
from responsewatch.config import settings_from_mapping  # noqa: E402
from responsewatch.ports import WebResponse  # noqa: E402


class DemoSite(StatusSite):
    def static(self, name: str) -> WebResponse | None:
        if name == "status.js":
            return WebResponse(200, b"", "text/javascript")
        return super().static(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "status.png")
    parser.add_argument("--lang", default="fr")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=2300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rw-status-") as tmp:
        work = Path(tmp)
        mbox = work / "consultant.mbox"
        sample = resources.files("responsewatch") / "sample" / "consultant.mbox"
        mbox.write_bytes(sample.read_bytes())
        mapping = dict(commands.SAMPLE_CONFIG)
        mapping["store"] = {"path": str(work / "rw.db")}
        mapping["archive"] = {"path": str(work / "archive")}
        mapping["accounts"] = [{"name": "sample", "type": "mbox", "path": str(mbox)}]
        settings = settings_from_mapping(mapping, base=work)
        at = commands.parse_now(commands.SAMPLE_NOW, settings.timezone)
        app = bootstrap(settings, clock=FixedClock(at))
        try:
            app.sync_once()
            analysis, found = app.report_with_insights(at)
            health = read_health(settings, app.store.sync_status(), app.store.sync_errors())
        finally:
            app.close()
        state = StatusState(settings)
        state.publish(analysis, found, at, health, read_agreements(settings.archive_path))
        site = DemoSite(settings, state, ack=lambda *_: None, now=lambda: at)
        server = WebServer(site, "127.0.0.1:0")
        server.start()
        try:
            subprocess.run(
                ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--user-data-dir={work / 'profile'}",
                 f"--window-size={args.width},{args.height}",
                 f"--screenshot={args.out.resolve()}",
                 f"http://127.0.0.1:{server.port}/?lang={args.lang}"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        finally:
            server.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
