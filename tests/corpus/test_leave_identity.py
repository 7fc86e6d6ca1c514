"""With no leave configured and auto-reply reading off (the defaults), every JSON document
(analyze, threads, report) is byte-identical to batch 1's on the real corpora.

The reference is produced by batch 1's own code, extracted from git (``git archive``) and run
in a subprocess beside the current code, with the same driver. Override the reference commit
with RESPONSEWATCH_REFERENCE_COMMIT.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REFERENCE = os.environ.get(
    "RESPONSEWATCH_REFERENCE_COMMIT", "55d1bf43854d90807ab1d70ddadc017148621e84"
)
ROOT = Path(__file__).resolve().parents[2]
NOW = "2002-03-01T09:00:00+01:00"
ENRON_ME = {
    "arnold-j": "john.arnold@enron.com",
    "causholli-m": "monika.causholli@enron.com",
    "crandell-s": "sean.crandall@enron.com",
    "love-p": "m..love@enron.com",
    "lucci-p": "t..lucci@enron.com",
    "richey-c": "cooper.richey@enron.com",
}

# Runs inside each code base: every document, keyed by a name, as one JSON object on stdout.
DRIVER = r"""
import json, sys
from pathlib import Path
from typer.testing import CliRunner
from responsewatch.cli import app

jobs, work = json.loads(sys.argv[1]), Path(sys.argv[2])
runner = CliRunner()
out = {}
def run(key, *args):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (key, result.output)
    out[key] = result.stdout
for job in jobs:
    name, me, paths, now = job["name"], job["me"], job["paths"], job["now"]
    run(f"analyze {name}", "analyze", *paths, "--me", me, "--now", now, "--format", "json")
    if job.get("report"):
        run(f"threads {name}", "threads", *paths, "--me", me, "--format", "json")
        store = work / name
        store.mkdir()
        accounts = "".join(
            f'[[accounts]]\nname = "a{i}"\ntype = "mbox"\npath = "{p}"\n'
            for i, p in enumerate(paths)
        )
        config = store / "config.toml"
        config.write_text(
            f'[me]\naddresses = ["{me}"]\n[store]\npath = "{store}/rw.db"\n'
            f'[archive]\npath = "{store}/archive"\ndetect = false\n' + accounts
        )
        run(f"sync {name}", "sync", "--config", str(config), "--once")
        out.pop(f"sync {name}")
        run(f"report {name}", "report", "--config", str(config), "--now", now, "--format", "json")
print(json.dumps(out))
"""


def _jobs(corpora: Path) -> list[dict[str, object]]:
    jobs: list[dict[str, object]] = []
    for user, me in ENRON_ME.items():
        paths = sorted(str(p) for p in (corpora / "real" / "enron" / user).glob("*.mbox.gz"))
        jobs.append({"name": user, "me": me, "paths": paths, "now": NOW, "report": True})
    # One list archive (the smallest) keeps the run short; the Enron boxes carry the turns.
    for path in [corpora / "real" / "lists" / "linux-mips-2013.mbox.gz"]:
        # A list archive has no "me": pick an address that never writes, so every poster is a
        # correspondent and my_turns stay empty; what matters is identical output.
        jobs.append(
            {"name": path.name, "me": "nobody@example.invalid", "paths": [str(path)],
             "now": "2022-01-01T00:00:00Z"}
        )  # fmt: skip
    return jobs


def _run(src: Path, jobs: list[dict[str, object]], work: Path) -> dict[str, str]:
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(src), "RESPONSEWATCH_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(jobs), str(work)],
        capture_output=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    result: dict[str, str] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def reference_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", REFERENCE, "src"],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"reference commit {REFERENCE} not in this clone (fetch full history, or set "
        f"RESPONSEWATCH_REFERENCE_COMMIT): {archive.stderr.decode(errors='replace')}"
    )
    target = tmp_path_factory.mktemp("reference")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def test_default_json_is_byte_identical_to_batch_1(
    corpora: Path, reference_src: Path, tmp_path: Path
) -> None:
    jobs = _jobs(corpora)
    before = _run(reference_src, jobs, tmp_path / "reference")
    after = _run(ROOT / "src", jobs, tmp_path / "current")
    assert sorted(before) == sorted(after)
    assert len(before) == 3 * len(ENRON_ME) + (len(jobs) - len(ENRON_ME))
    for key, document in before.items():
        assert after[key] == document, key
    # The documents are not trivial: the comparison covers replies and awaiting turns.
    analyzed = [json.loads(before[f"analyze {user}"]) for user in ENRON_ME]
    assert sum(len(doc["replies"]) for doc in analyzed) > 50
    assert sum(len(doc["awaiting"]) for doc in analyzed) > 10
