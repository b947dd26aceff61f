"""The order benchmark's rows combine slices of wrk runs (bench/support.py `combined`)."""

from __future__ import annotations

from bench.support import WrkResult, combined


def _uniform(requests: int, seconds: float, tail: list[float] | None = None) -> WrkResult:
    """A slice whose latencies run evenly from 1 to 10 ms, the last quantiles replaced by `tail`."""
    tail = tail or []
    body = [1 + 9 * i / 998 for i in range(999 - len(tail))]
    return WrkResult(requests / seconds, 5.5, 10.0, 0, requests, latencies=tuple(body + tail))


def test_a_tail_in_one_slice_counts_for_its_share_of_all_requests() -> None:
    # 1 % of the second slice's requests took 200 ms: half a percent of both.
    row = combined([_uniform(5_000, 5.0), _uniform(5_000, 5.0, [200.0] * 10)])
    assert row.requests == 10_000
    assert row.requests_per_second == 1_000
    assert row.p99_ms < 11
    assert 5 <= row.p50_ms <= 6


def test_a_tail_beyond_one_percent_of_all_requests_sets_the_p99() -> None:
    row = combined([_uniform(2_000, 2.0, [200.0] * 40), _uniform(8_000, 8.0, [150.0] * 10)])
    # 40 / 999 of 2,000 (80) plus 10 / 999 of 8,000 (80): 1.6 % of all above 100 ms.
    assert row.p99_ms == 150.0
    assert row.requests_per_second == 1_000


def test_slices_without_a_distribution_keep_the_worse_percentiles() -> None:
    first = WrkResult(900.0, 4.0, 40.0, 1, 4_500, cpu_us=300.0)
    second = WrkResult(1_100.0, 6.0, 90.0, 2, 5_500, cpu_us=400.0)
    row = combined([first, second])
    assert (row.p50_ms, row.p99_ms, row.errors, row.requests) == (6.0, 90.0, 3, 10_000)
    assert row.requests_per_second == 10_000 / (5 + 5)
    assert row.cpu_us == (300 * 4_500 + 400 * 5_500) / 10_000
