"""The status API's report, streamed into the compressor, is json.dumps of the report."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.app.report import analysis_json
from responsewatch.app.status_json import compressed_report
from responsewatch.core.insights import Insights, LatencyTrend, Trend, insights_json
from responsewatch.core.models import Analysis, Awaiting, ClientReply, Reply, Totals, TurnState

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
DAY = timedelta(days=1)

texts = st.text(max_size=12)  # hostile: quotes, backslashes, controls, surrogates, U+2028
seconds = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(float),
    st.floats(min_value=0, max_value=1e9, allow_nan=False),
)
times = st.integers(min_value=0, max_value=10**8).map(lambda s: NOW - timedelta(seconds=s))
replies = st.builds(
    Reply, texts, texts, texts, texts, times, times, seconds, seconds, st.booleans(), st.booleans()
)
client_replies = st.builds(ClientReply, texts, texts, texts, texts, times, times, seconds)
awaiting = st.builds(
    Awaiting, texts, texts, texts, texts, times, seconds, seconds, st.sampled_from(list(TurnState))
)


def found() -> Insights:
    trend = LatencyTrend(None, None, 0, 0, Trend.UNKNOWN)
    return Insights(NOW, NOW - 28 * DAY, NOW - 56 * DAY, (), (), (), (), trend, (), ())


@settings(max_examples=80, deadline=None)
@given(
    st.lists(replies, max_size=9),
    st.lists(client_replies, max_size=9),
    st.lists(awaiting, max_size=3),
    st.integers(min_value=1, max_value=4),
)
def test_the_streamed_report_is_json_dumps_of_the_report(
    mine: list[Reply], theirs: list[ClientReply], owed: list[Awaiting], block: int
) -> None:
    analysis = Analysis(
        NOW, 86400.0, 64800.0, "calendar", Totals(len(mine), 1, 0, 0), (), tuple(owed),
        tuple(mine), tuple(theirs),
    )  # fmt: skip
    doc = {**analysis_json(analysis), "insights": insights_json(found())}
    expected = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    assert zlib.decompress(compressed_report(analysis, found(), block=block)) == expected
