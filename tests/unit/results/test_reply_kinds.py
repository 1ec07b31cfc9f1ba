"""TTFT, TPOT and ITL by reply kind, the parser's hold-back, and when the client is flagged:
against calls whose figures the test sets."""

from __future__ import annotations

import numpy as np
import pytest

from bench.results.client_summary import client_summary, saturation_reasons
from bench.results.reply_kinds import reply_kind_summary
from bench.results.summary import compute_summary
from bench.scoring.outcome import upgrade_legacy


def _call(i: int, kind: str, ttft: float, tpot: float, gaps: list[float], **extra) -> dict:
    return {"turn_id": f"s:{i}", "session_id": "s", "started_at": 100.0 + i, "e2e_ms": 300.0,
            "ttft_ms": ttft, "tpot_ms": tpot, "itl_gaps_ms": gaps, "reply_kind": kind,
            "error_type": None, "warmup": False, "incomplete": False, **extra}  # fmt: skip


TEXT = [_call(i, "text", 50.0 + i, 10.0 + i / 10, [10.0, 11.0, 0.0]) for i in range(5)]
TOOL = [_call(10 + i, "tool_call", 110.0 + 2 * i, 12.0, [12.0, 13.0], tool_holdback_ms=60.0 + i)
        for i in range(4)]  # fmt: skip
PCT_COLUMNS = ("ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p90_ms",
               "tpot_p99_ms")  # fmt: skip


@pytest.mark.parametrize(("calls", "infix"), [(TEXT, "text"), (TOOL, "tool")])
def test_with_one_kind_its_columns_are_the_combined_ones(calls: list[dict], infix: str) -> None:
    combined = compute_summary(calls, [], [], {})
    split = reply_kind_summary(calls, [])
    for column in PCT_COLUMNS:
        name, rest = column.split("_", 1)
        assert split[f"{name}_{infix}_{rest}"] == combined[column], column
    for q in (50, 90, 99):
        assert split[f"itl_{infix}_p{q}_ms"] == split[f"itl_p{q}_ms"]
    other = "tool" if infix == "text" else "text"
    assert split[f"llm_calls_{infix}"] == len(calls) and split[f"llm_calls_{other}"] == 0
    assert split[f"ttft_{other}_p50_ms"] is None


def test_each_kind_is_its_own_calls_and_itl_pools_every_gap() -> None:
    row = reply_kind_summary(TEXT + TOOL, [])
    assert row["ttft_text_p50_ms"] == 52.0 and row["ttft_tool_p50_ms"] == 113.0
    assert row["tpot_text_p50_ms"] == pytest.approx(10.2) and row["tpot_tool_p90_ms"] == 12.0
    gaps = [10.0, 11.0, 0.0] * 5 + [12.0, 13.0] * 4
    assert row["itl_p50_ms"] == np.percentile(gaps, 50) and row["itl_text_p90_ms"] == 11.0
    assert row["tool_holdback_p50_ms"] == 61.5
    assert row["itl_batched_share"] == pytest.approx(5 / 23)  # the 0 gaps: read in a batch


def test_an_incomplete_call_without_a_token_bounds_both_kinds() -> None:
    """Its kind is not known yet: at its age it is a lower bound of either kind's TTFT."""
    stuck = {**_call(99, None, None, None, []), "e2e_ms": 9000.0, "incomplete": True}  # type: ignore[arg-type]
    row = reply_kind_summary(TEXT + TOOL, [stuck])
    bound = np.percentile([50.0, 51.0, 52.0, 53.0, 54.0, 9000.0], 99)
    assert row["ttft_text_p99_ms"] is None and row["ttft_text_p99_ms_bound"] == f"≥ {bound:.1f} ms"
    assert row["ttft_tool_p99_ms"] is None and row["ttft_tool_p99_ms_bound"].startswith("≥")
    assert row["ttft_text_p50_ms"] == 52.5 and row["llm_calls_text"] == 5


def test_a_call_recorded_before_the_split_gets_its_kind() -> None:
    old = {"timing_layer": "wire", "ttft_ms": 50.0, "tool_calls_n": 0, "finish_reason": "stop"}
    tool = {"timing_layer": "wire", "ttft_ms": 90.0, "tool_calls_n": 1}
    failed = {"timing_layer": "wire", "ttft_ms": None, "error_type": "APIError"}
    kinds = [upgrade_legacy(dict(r))["reply_kind"] for r in (old, tool, failed)]
    assert kinds == ["text", "tool_call", None]


def _sample(lag: float, wire_lags: list[float] | None = None) -> dict:
    return {"timestamp": 10.0, "pid": 1, "cpu_percent": 40.0, "gevent_lag_ms": 1.0,
            "asyncio_lag_ms": lag, "wire_lags_ms": wire_lags}  # fmt: skip


def test_the_client_is_flagged_by_what_it_distorts() -> None:
    calm = {"ttft_p50_ms": 50.0, "pull_delay_p90_ms": 1.0, "itl_batched_share": 0.0}
    assert client_summary([_sample(30.0, [1.0])], 0, 20, calm)["client_saturated"] is False
    # chunks waited 8 ms for the agent (over 10% of 50 ms): flagged, the loop lag aside
    late = client_summary([_sample(30.0, [1.0])], 0, 20, {**calm, "pull_delay_p90_ms": 8.0})
    assert late["client_saturated"] is True
    assert late["client_saturated_reason"].startswith("pull delay: chunks waited p90 8.0 ms")
    # no arrival stamps (pull delays unknown): the event-loop lag stands in
    (reason,) = saturation_reasons({"ttft_p50_ms": 50.0, "client_lag_p90_ms": 30.0})
    assert reason.startswith("loop lag: ")
    # the reader that stamps arrivals woke late: the wire figures themselves are late; its p90
    # is over every wake-up, so one long pause now and then stays in the tail
    stamps = client_summary(
        [_sample(1.0, [9.0] * 10), _sample(1.0, [0.5] * 9 + [200.0])], 0, 20, calm
    )
    assert stamps["client_wire_lag_p90_ms"] == 9.0
    assert stamps["client_saturated_reason"].startswith("stamps late: ")
    paused = client_summary([_sample(1.0, [0.5] * 19 + [300.0])], 0, 20, calm)
    assert paused["client_wire_lag_p90_ms"] == 0.5 and paused["client_saturated"] is False
    # a fifth of the gaps 0 while the server takes 10 ms a token: read in batches
    batched = {**calm, "itl_batched_share": 0.2, "server_tpot_mean_ms": 10.0}
    assert saturation_reasons(batched)[0].startswith("batched reads: 20% of ITL gaps were 0")
    # the same share from a server that sends tokens well under a millisecond apart: no flag
    assert saturation_reasons({**batched, "server_tpot_mean_ms": 0.4}) == []
    # nothing measured: no verdict
    assert client_summary([], 0, 20, {"ttft_p50_ms": 50.0})["client_saturated"] is None
