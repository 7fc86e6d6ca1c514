"""The status page in a real headless Chromium (Debian's, driven by Debian's chromedriver
through Selenium) against the daemon following a real Dovecot mailbox.

The page lists exactly the awaiting turns of `report --format json`, with their states and
countdowns; acknowledging from the page removes the turn and `report` agrees; a POST without
the CSRF token is refused; 360 px wide has no horizontal scroll; dark mode renders; French and
English; axe-core finds no serious or critical violation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from tests.servers.config import ME, imap_account_toml, write_config
from tests.servers.dovecot import Dovecot
from tests.support.daemon_thread import RunningDaemon

pytestmark = pytest.mark.dovecot

HOST = "127.0.0.1"
HOUR = timedelta(hours=1)
CLI = [sys.executable, "-c", "from responsewatch.cli import main; main()"]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE_VERSION = "4.10.2"
AXE_CACHE = Path.home() / ".cache" / "responsewatch-tests" / f"axe-core-{AXE_VERSION}"


def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)


def mail(n: int, sender: str, subject: str, message_id: str = "") -> bytes:
    message_id = message_id or f"s{n}@{sender.split('@')[1]}"
    return (
        f"From: {sender}\r\nTo: {ME}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nMessage-ID: <{message_id}>\r\n"
        "\r\nCorps du message, jamais sur la page.\r\n"
    ).encode()


@pytest.fixture(scope="module")
def axe_js() -> str:
    """axe-core from the npm registry, cached outside the repository."""
    script = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to fetch axe-core (scripts/test.sh installs it)"
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(AXE_CACHE),
             f"axe-core@{AXE_VERSION}"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    return script.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def running(dovecot: Dovecot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("status")
    user = dovecot.add_user()
    now = datetime.now(UTC).replace(microsecond=0)
    dovecot.append_many(
        user,
        "INBOX",
        [
            (mail(1, "jean@acme.fr", "Contrat <b>signé</b> ?"), now - 30 * HOUR, ()),
            (mail(2, "eve@bolt-industries.com", "Planning du lot 2"), now - 20 * HOUR, ()),
            (mail(3, "paul.dune@gmail.com", "Question rapide"), now - 1 * HOUR, ()),
            # Unbroken text must wrap at 360 px, never widen the page.
            (
                mail(4, "x@celsius-energie.fr", "Z" * 160, "a" * 120 + "@celsius-energie.fr"),
                now - 2 * HOUR,
                (),
            ),
        ],
    )
    config = write_config(
        tmp,
        [imap_account_toml(dovecot, user, tmp)],
        daemon='recompute_every = "1s"\nrecompute_in_child = false\n',
    )
    run = RunningDaemon(config, start_timeout=20)
    daemon = run.daemon
    assert daemon is not None and daemon.status is not None
    status = daemon.status

    def ready() -> bool:
        view = status.latest()
        return view is not None and len(view.analysis.awaiting) == 4

    try:
        wait_for(ready, 60)
        assert daemon.web_port is not None
        yield run, config, f"http://{HOST}:{daemon.web_port}"
    finally:
        run.shutdown(expect_code=0)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = Path(__import__("tempfile").mkdtemp(prefix="rw-chromium-"))
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1100,900",
    ):  # fmt: skip
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception as exc:
        pytest.fail(f"headless Chromium could not start: {exc!r}")
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def report_json(config: Path) -> dict[str, Any]:
    """`responsewatch report --format json`, as a separate process (the daemon's log lines
    would share an in-process runner's stdout)."""
    done = subprocess.run(
        [*CLI, "report", "--config", str(config), "--format", "json"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def turns_on_page(driver: webdriver.Chrome) -> dict[str, str]:
    return {
        li.get_attribute("data-thread") or "": li.get_attribute("data-state") or ""
        for li in driver.find_elements(By.CSS_SELECTOR, "li[data-thread]")
    }


def axe(driver: webdriver.Chrome, script: str) -> list[dict[str, Any]]:
    driver.execute_script(script)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));"
    )
    return [v for v in result if v.get("impact") in ("serious", "critical")]


def set_dark(driver: webdriver.Chrome, dark: bool) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )


def test_page_in_chromium_matches_report_then_ack_from_the_page(
    running: Any, browser: webdriver.Chrome, axe_js: str
) -> None:
    run, config, base = running
    driver = browser
    driver.get(base + "/")
    doc = report_json(config)
    expected = {w["thread_id"]: w["state"] for w in doc["awaiting"]}
    assert len(expected) == 4
    assert turns_on_page(driver) == expected
    # Overdue first; its countdown, drawn by the page's script from the deadline instant.
    first = driver.find_element(By.CSS_SELECTOR, "li[data-thread]")
    assert first.get_attribute("data-state") == "overdue"
    countdowns = driver.find_elements(By.CSS_SELECTOR, "time[data-deadline]")
    now = time.time()
    for el, w in zip(countdowns, sorted(doc["awaiting"], key=_rank), strict=True):
        deadline = datetime.fromisoformat(el.get_attribute("datetime") or "")
        since = datetime.fromisoformat(w["since"])
        within = 8 if w["client"] == "Acme" else 24  # Acme: reply_within = "8h"
        assert deadline - since == timedelta(hours=within)
        text = el.text
        rest = deadline.timestamp() - now
        assert text.startswith("en retard de") if rest < 0 else text.startswith("reste"), text
    assert "en retard de 22 h" in countdowns[0].text  # 30 h old, 8 h deadline
    # The page script counts from the instant, not from the server's text: rewrite the
    # text, tick, and it is recomputed (so a refresh or an open tab stays right).
    driver.execute_script("document.querySelector('time[data-deadline]').textContent='x'")
    wait_for(lambda: countdowns[0].text != "x", 15)
    assert "<b>" not in driver.page_source.split("<body")[1].replace("&lt;b&gt;", "")
    assert "Corps du message" not in driver.page_source
    assert axe(driver, axe_js) == []
    # English.
    driver.get(base + "/?lang=en")
    assert driver.find_element(By.TAG_NAME, "h1").text == "responsewatch — status"
    assert driver.find_element(By.ID, "owe").text.startswith("What I owe")
    assert "late by 22 h" in driver.find_element(By.CSS_SELECTOR, "time[data-deadline]").text
    assert axe(driver, axe_js) == []
    # A POST without the CSRF token (or with the cookie only) is refused.
    for tamper in ("f.querySelector('input[name=csrf]').remove()",
                   "f.querySelector('input[name=csrf]').value = 'f00'"):  # fmt: skip
        driver.get(base + "/?lang=en")
        driver.execute_script(f"const f = document.querySelector('form'); {tamper}; f.submit();")
        wait_for(lambda: "/action/ack" in driver.current_url, 20)
        assert "403 Forbidden" in driver.find_element(By.TAG_NAME, "body").text
    driver.get(base + "/")
    assert turns_on_page(driver) == expected
    # Acknowledge the overdue turn from the page.
    overdue = next(t for t, s in expected.items() if s == "overdue")
    button = driver.find_element(
        By.CSS_SELECTOR, f"li[data-thread='{overdue}'] button[type=submit]"
    )
    button.click()
    wait_for(lambda: "done=ack" in driver.current_url, 20)
    assert "Marqué comme traité." in driver.page_source
    assert overdue not in turns_on_page(driver)
    status = run.daemon.status
    wait_for(lambda: len(status.latest().analysis.awaiting) == 3, 30)
    after = report_json(config)
    assert {w["thread_id"] for w in after["awaiting"]} == set(expected) - {overdue}
    assert (
        after["clients"][0]["acknowledged"] + sum(c["acknowledged"] for c in after["clients"][1:])
        == 1
    )
    driver.refresh()
    assert set(turns_on_page(driver)) == set(expected) - {overdue}


def _rank(w: dict[str, Any]) -> tuple[int, str]:
    return ({"overdue": 0, "due_soon": 1, "ok": 2}[w["state"]], w["since"])


def test_narrow_screen_no_horizontal_scroll_and_dark_mode(
    running: Any, browser: webdriver.Chrome, axe_js: str
) -> None:
    _run, _config, base = running
    driver = browser
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True},
        )
        driver.get(base + "/")
        width = driver.execute_script("return document.documentElement.clientWidth")
        scroll = driver.execute_script("return document.documentElement.scrollWidth")
        assert width == 360 and scroll <= width, (width, scroll)
        light = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        set_dark(driver, True)
        driver.get(base + "/?lang=en")
        dark = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert light == "rgb(255, 255, 255)" and dark == "rgb(18, 22, 31)"
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 360
        assert axe(driver, axe_js) == []
    finally:
        set_dark(driver, False)
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
