"""Agreement detection on the labelled set: precision, recall and F1 per language.

A fixed random 30% of the set is held out: it was not looked at while the detector was
tuned, so its figures are the honest estimate. Targets: precision >= 0.95, recall >= 0.85.
Usage: python tests/benchmarks/bench_agreements.py [--errors dev|holdout|all|none]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from responsewatch.core.agreements import detect_agreement  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "agreements" / "labelled.jsonl"
HOLDOUT_SEED = 20261123
HOLDOUT_FRACTION = 0.3


@dataclass(frozen=True, slots=True)
class Outcome:
    case: dict[str, object]
    predicted: bool
    phrase: str | None

    @property
    def expected(self) -> bool:
        return bool(self.case["label"])


@dataclass(frozen=True, slots=True)
class Scores:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load(path: Path = LABELLED) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def holdout_ids(cases: Sequence[dict[str, object]]) -> frozenset[str]:
    ids = sorted(str(c["id"]) for c in cases)
    return frozenset(random.Random(HOLDOUT_SEED).sample(ids, round(len(ids) * HOLDOUT_FRACTION)))


def run(cases: Iterable[dict[str, object]]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        found = detect_agreement(
            str(case["body"]),
            subject=str(case["subject"]),
            attachments=[str(a) for a in case["attachments"]],  # type: ignore[attr-defined]
            from_me=bool(case["from_me"]),
            automated=bool(case["automated"]),
        )
        outcomes.append(Outcome(case, found is not None, found.phrase if found else None))
    return outcomes


def score(outcomes: Iterable[Outcome]) -> Scores:
    tp = fp = fn = tn = 0
    for o in outcomes:
        if o.predicted and o.expected:
            tp += 1
        elif o.predicted:
            fp += 1
        elif o.expected:
            fn += 1
        else:
            tn += 1
    return Scores(tp, fp, fn, tn)


def _line(name: str, s: Scores) -> str:
    return (
        f"{name:<16} P={s.precision:.3f} R={s.recall:.3f} F1={s.f1:.3f}  "
        f"(tp={s.tp} fp={s.fp} fn={s.fn} tn={s.tn})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", choices=["dev", "holdout", "all", "none"], default="all")
    args = ap.parse_args()
    cases = load()
    held = holdout_ids(cases)
    outcomes = run(cases)
    splits = {
        "dev": [o for o in outcomes if o.case["id"] not in held],
        "holdout": [o for o in outcomes if o.case["id"] in held],
        "all": outcomes,
    }
    positives = sum(o.expected for o in outcomes)
    print(f"{len(cases)} messages, {positives} positive, {len(held)} held out")
    for split, items in splits.items():
        for lang in ("fr", "en"):
            print(_line(f"{split}/{lang}", score(o for o in items if o.case["lang"] == lang)))
        print(_line(f"{split}/overall", score(items)))
    if args.errors == "none":
        return
    for o in splits[args.errors]:
        if o.predicted != o.expected:
            kind = "FALSE POSITIVE" if o.predicted else "FALSE NEGATIVE"
            split = "holdout" if o.case["id"] in held else "dev"
            print(f"\n{kind} {o.case['id']} [{split}] {o.case['note']} phrase={o.phrase}")
            print("  " + str(o.case["body"]).replace("\n", "\n  ")[:600])


if __name__ == "__main__":
    main()
