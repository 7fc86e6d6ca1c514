"""Order statistics as DESIGN.md defines them (linear interpolation between closest ranks)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["median", "percentile"]


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Like numpy's default / ``statistics.quantiles(method="inclusive")``; None without data."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * weight


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 0.5)
