"""Edges of the business clock the broader properties leave out (each kills a mutant of
core/business_time.py that survived tests/benchmarks/mutation.py)."""

from __future__ import annotations

import re
from datetime import time

import pytest
from tests.unit.test_business_time import ALL_DAYS, H, clock, paris


def test_the_first_window_of_a_year_is_business_time() -> None:
    # Wednesdays only: 2026 starts on a Thursday, so its first window is Wednesday 7 January,
    # the very first window of a fresh clock's table.
    wednesdays = clock(days=(2,))
    assert wednesdays.is_business_time(paris(2026, 1, 7, 10))
    assert clock(days=(2,)).seconds_between(paris(2026, 1, 7, 10), paris(2026, 1, 7, 11)) == H
    assert not clock(days=(2,)).is_business_time(paris(2026, 1, 7, 8, 59))


def test_a_boolean_is_not_a_weekday() -> None:
    with pytest.raises(ValueError, match=r"business day True is not a weekday number"):
        clock(days=(True,))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"timezone": "Mars/Olympus"},
            "unknown time zone 'Mars/Olympus' for business hours (use an IANA name such as "
            "'Europe/Paris')",
        ),
        (
            {"start": time(18), "end": time(9)},
            "business hours start 18:00:00 must be before end 09:00:00 "
            "(end 00:00 means midnight at the end of the day)",
        ),
        (
            {"start": time(9, tzinfo=paris(2026, 1, 1).tzinfo)},
            "business hours start/end are local wall-clock times, without a zone",
        ),
        ({"holidays_country": "XX"}, "no public holidays known for XX: "),
        (
            {"holidays_country": "XX", "holidays_subdivision": "1"},
            "no public holidays known for XX subdivision '1': ",
        ),
    ],
)
def test_configuration_errors_say_exactly_what_is_wrong(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        clock(**kwargs)


@pytest.mark.parametrize("year", [2025, 2026, 2031])
def test_a_clock_reused_across_new_year_answers_like_a_fresh_one(year: int) -> None:
    # The table covers whole UTC years (with a 2-day margin); a clock that first answered
    # about mid-year must rebuild, not guess, for the days around the next and previous
    # New Year.
    every_day = {"days": ALL_DAYS}
    probes = [
        paris(y, m, d, h)
        for y, m, days in ((year + 1, 1, range(1, 9)), (year - 1, 12, range(24, 32)))
        for d in days
        for h in (3, 10)
        if h == 10 or d in (1, 31)
    ]
    for probe in probes:
        shared = clock(**every_day)
        assert shared.seconds_between(paris(year, 6, 1, 10), paris(year, 6, 1, 11)) == H
        fresh = clock(**every_day)
        assert shared.is_business_time(probe) == fresh.is_business_time(probe), probe
        again = clock(**every_day)
        again.is_business_time(paris(year, 6, 1, 10))
        later = probe + (paris(2026, 1, 1, 1) - paris(2026, 1, 1, 0))
        assert again.seconds_between(probe, later) == fresh.seconds_between(probe, later), probe
