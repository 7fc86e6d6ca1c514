"""Mutation score of the core rules: mutmut over one module at a time, each against the
tests that exercise it, with a time budget. Prints the score and every surviving mutant.

    python tests/benchmarks/mutation.py                     # the four modules below
    python tests/benchmarks/mutation.py latency --budget 900 --children 1
    python tests/benchmarks/mutation.py classify --show     # also print each survivor's diff

Not part of scripts/test.sh (minutes per module). Each run works in a throwaway copy of
the project (mutmut writes a ``mutants/`` tree next to the code), so the worktree is never
touched; the copy finds the corpora through RESPONSEWATCH_CORPORA, set to this project's.
Needs ``pip install mutmut`` (3.x).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support import corpora  # noqa: E402  (the project root first)

# module -> the tests that state its rules (unit tests, plus the corpus tests where the
# corpora pin answers); kept narrow so one mutant costs a second or two, not a suite run.
SELECTION: dict[str, list[str]] = {
    "latency": [
        "tests/unit/test_latency.py",
        "tests/unit/test_acks.py",
        "tests/unit/test_latency_fields.py",
    ],
    "classify": [
        "tests/unit/test_classify.py",
        "tests/unit/test_classify_edges.py",
        "tests/unit/test_thanks_reference.py",
        "tests/unit/test_parsing.py",
    ],
    "threading": [
        "tests/unit/test_threading.py",
        "tests/unit/test_threading_edges.py",
        "tests/unit/test_threading_fallback_order.py",
        "tests/unit/test_threading_warnings.py",
        "tests/unit/test_subjects.py",
        "tests/corpus/test_threading_corpus.py",
    ],
    "business_time": [
        "tests/unit/test_business_time.py",
        "tests/unit/test_business_time_edges.py",
        "tests/unit/test_business_time_precision.py",
        # with_leave and the leave cut (_cut) are stated there.
        "tests/unit/test_leave.py",
    ],
}


def _setup_cfg(module: str, tests: list[str]) -> str:
    listing = "\n".join(f"    {t}" for t in tests)
    return (
        "[mutmut]\n"
        "source_paths =\n    src\n"
        f"only_mutate =\n    src/responsewatch/core/{module}.py\n"
        f"pytest_add_cli_args_test_selection =\n{listing}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -p\n    no:randomly\n"
        "    -q\n"
    )


def _copy_project(into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc", "mutants")
    for name in ("src", "tests"):
        shutil.copytree(ROOT / name, into / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")


def _results(work: Path) -> dict[str, str]:
    """mutant name -> status (killed, survived, timeout, no tests, ...)."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status.strip()
    return found


def run_module(
    module: str, budget_s: float, children: int, show: bool, only: list[str]
) -> dict[str, object]:
    """``only``: mutant names to (re)run, e.g. the survivors of an earlier run."""
    tests = SELECTION[module]
    with tempfile.TemporaryDirectory(prefix=f"rw-mut-{module}-") as tmp:
        work = Path(tmp)
        _copy_project(work)
        (work / "setup.cfg").write_text(_setup_cfg(module, tests))
        env = {**os.environ, corpora.ENV: str(corpora.CORPORA), "PYTHONHASHSEED": "0"}
        env.pop("CI", None)
        started = time.monotonic()
        # Its own process group: at the budget, mutmut and the test runs it forked all stop.
        proc = subprocess.Popen(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *only],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=budget_s)
            tail, finished = out.strip().splitlines()[-3:], True
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate()
            tail, finished = ["(time budget reached: the score covers the mutants tested)"], False
        elapsed = time.monotonic() - started
        status = _results(work)
        if only:
            status = {n: v for n, v in status.items() if n in only}
        survivors = sorted(n for n, s in status.items() if s == "survived")
        diffs: dict[str, str] = {}
        if show:
            for name in survivors:
                diffs[name] = subprocess.run(
                    [sys.executable, "-m", "mutmut", "show", name],
                    cwd=work,
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout
    counts: dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    # A mutant no selected test reaches is a survivor, not a mutant left out of the score.
    survivors += sorted(n for n, s in status.items() if s == "no tests")
    tested = (
        counts.get("killed", 0)
        + counts.get("survived", 0)
        + counts.get("timeout", 0)
        + counts.get("no tests", 0)
    )
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    return {
        "module": module,
        "tests": tests,
        "seconds": round(elapsed, 1),
        "finished": finished,
        "counts": counts,
        "score": round(100 * killed / tested, 1) if tested else None,
        "survivors": survivors,
        "diffs": diffs,
        "tail": tail,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", default=list(SELECTION), choices=list(SELECTION))
    parser.add_argument("--budget", type=float, default=1200, help="seconds per module")
    parser.add_argument("--children", type=int, default=1, help="parallel mutants (shared CPU)")
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--only", type=Path, help="a file of mutant names: run just those")
    args = parser.parse_args()
    only = args.only.read_text().split() if args.only else []
    reports = []
    for module in args.modules:
        mine = [n for n in only if n.startswith(f"responsewatch.core.{module}.")]
        if only and not mine:
            continue
        report = run_module(module, args.budget, args.children, args.show, mine)
        reports.append(report)
        print(
            f"core/{module}.py: score {report['score']}% killed "
            f"{report['counts']} in {report['seconds']} s"
            + ("" if report["finished"] else " (budget reached)")
        )
        for name in report["survivors"]:  # type: ignore[attr-defined]
            print(f"  survived: {name}")
            if args.show:
                print("    " + report["diffs"][name].strip().replace("\n", "\n    "))  # type: ignore[index]
        if report["counts"] == {}:
            print("  " + "\n  ".join(report["tail"]))  # type: ignore[arg-type]
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
