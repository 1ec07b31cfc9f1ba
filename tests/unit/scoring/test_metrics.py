"""Goodput, pass^k/pass@k, finer tool metrics, histogram quantiles, roofline."""

from __future__ import annotations

import json

import pytest

from bench.results.roofline import roofline
from bench.results.server_summary import histogram_quantile, server_summary
from bench.schemas.errors import BenchError
from bench.scoring.breakdown import tool_table
from bench.scoring.goodput import goodput, mark_slo, parse_slo
from bench.scoring.reliability import case_table, pass_at_k, pass_hat_k, reliability_summary
from bench.scoring.trajectory import arg_credit, tool_counts
from bench.scoring.unparsed import looks_like_unparsed_call


def test_parse_slo():
    assert parse_slo("ttft_ms=500,turn_ms=3000") == {"ttft_ms": 500.0, "turn_ms": 3000.0}
    for bad in ("ttft=5", "ttft_ms=abc", "ttft_ms=-1", "ttft_ms"):
        with pytest.raises(BenchError, match="--slo"):
            parse_slo(bad)


def test_goodput_counts_sessions_meeting_every_slo_and_passing():
    calls = [
        {"turn_id": "a:0", "ttft_ms": 100, "tpot_ms": 10},
        {"turn_id": "b:0", "ttft_ms": 900, "tpot_ms": 10},  # breaks ttft
        {"turn_id": "c:0", "ttft_ms": 100, "tpot_ms": None},  # one token: no TPOT
    ]
    turns = [
        {"turn_id": "a:0", "session_id": "a", "latency_ms": 200, "trajectory_score": 1.0},
        {"turn_id": "b:0", "session_id": "b", "latency_ms": 200, "trajectory_score": 1.0},
        {
            "turn_id": "c:0",
            "session_id": "c",
            "latency_ms": 200,
            "trajectory_score": 0.0,
        },  # wrong tools
    ]
    sessions = [
        {"session_id": s, "duration_ms": 300, "errors": 0, "case_passed": s != "c"} for s in "abc"
    ]
    for record in turns + sessions:
        record["ended_at"] = 1.0
    mark_slo(calls, turns, sessions, {"ttft_ms": 500, "tpot_ms": 50})
    assert [s["slo_met"] for s in sessions] == [True, False, False]
    g = goodput(turns, sessions, window_end=2.0, window_s=2.0)
    assert g["goodput_sessions_per_s"] == 0.5 and g["goodput_turns_per_s"] == 0.5
    assert g["slo_attainment_sessions_pct"] == pytest.approx(100 / 3)
    # ended after the window (in the drain): met, but in no rate
    assert goodput(turns, sessions, window_end=0.5, window_s=2.0)["goodput_turns_per_s"] == 0


def test_incomplete_work_misses_an_slo_it_is_past_and_is_undecided_below():
    """Still running at the cut: a turn 12 s old misses turn_ms=10000, one 3 s old is
    undecided (left out of attainment); a call with no first token after 12 s misses ttft_ms."""
    calls = [{"turn_id": "old:0", "ttft_ms": None, "e2e_ms": 12000.0, "incomplete": True},
             {"turn_id": "young:0", "ttft_ms": 50.0, "e2e_ms": 3000.0, "incomplete": True}]  # fmt: skip
    turns = [
        {"turn_id": "old:0", "session_id": "old", "latency_ms": 12000.0, "incomplete": True},
        {"turn_id": "young:0", "session_id": "young", "latency_ms": 3000.0, "incomplete": True},
    ]
    sessions = [{"session_id": s, "duration_ms": d, "errors": 0, "incomplete": True}
                for s, d in (("old", 12500.0), ("young", 3500.0))]  # fmt: skip
    mark_slo(calls, turns, sessions, {"turn_ms": 10000.0})
    assert [t["slo_met"] for t in turns] == [False, None]
    assert [s["slo_met"] for s in sessions] == [False, None]
    g = goodput(turns, sessions, window_end=1.0, window_s=1.0)
    assert g["slo_attainment_turns_pct"] == 0.0 and g["slo_attainment_sessions_pct"] == 0.0
    mark_slo(calls, turns, sessions, {"ttft_ms": 5000.0})  # the old call's age bounds its TTFT
    assert [t["slo_met"] for t in turns] == [False, None]


def test_ttft_slos_by_reply_kind_bound_only_their_kind():
    """ttft_text_ms bounds text replies, ttft_tool_ms tool-call replies, ttft_ms both."""
    calls = [
        {"turn_id": "a:0", "ttft_ms": 150.0, "reply_kind": "tool_call"},  # the parser's wait
        {"turn_id": "a:0", "ttft_ms": 40.0, "reply_kind": "text"},
        {"turn_id": "b:0", "ttft_ms": 90.0, "reply_kind": "text"},  # a slow text reply
    ]
    turns = [{"turn_id": f"{s}:0", "session_id": s, "latency_ms": 500.0, "trajectory_score": 1.0}
             for s in "ab"]  # fmt: skip
    assert parse_slo("ttft_text_ms=60,ttft_tool_ms=200") == {"ttft_text_ms": 60.0,
                                                             "ttft_tool_ms": 200.0}  # fmt: skip
    mark_slo(calls, turns, [], {"ttft_text_ms": 60.0})
    assert [t["slo_met"] for t in turns] == [True, False]
    mark_slo(calls, turns, [], {"ttft_tool_ms": 100.0})
    assert [t["slo_met"] for t in turns] == [False, True]
    mark_slo(calls, turns, [], {"ttft_ms": 100.0})  # both kinds
    assert [t["slo_met"] for t in turns] == [False, True]
    # still waiting for its first token after 300 ms: of either kind, so it misses only once
    # past both kinds' SLOs; with a kind unbounded it is undecided
    stuck = [{"turn_id": "c:0", "ttft_ms": None, "e2e_ms": 300.0, "incomplete": True}]
    open_turn = [{"turn_id": "c:0", "session_id": "c", "latency_ms": 300.0, "incomplete": True}]
    mark_slo(stuck, open_turn, [], {"ttft_text_ms": 60.0, "ttft_tool_ms": 200.0})
    assert open_turn[0]["slo_met"] is False
    mark_slo(stuck, open_turn, [], {"ttft_text_ms": 60.0, "ttft_tool_ms": 400.0})
    assert open_turn[0]["slo_met"] is None
    mark_slo(stuck, open_turn, [], {"ttft_text_ms": 60.0})
    assert open_turn[0]["slo_met"] is None


def test_pass_hat_k_and_pass_at_k_follow_tau_bench():
    assert pass_hat_k(4, 4, 2) == 1.0 and pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6) and pass_at_k(4, 0, 3) == 0.0
    sessions = [
        {
            "session_id": f"s{i}",
            "case_id": "x",
            "case_passed": i < 2,
            "trajectory_score": float(i < 2),
        }
        for i in range(4)
    ]
    turns = [
        {
            "session_id": f"s{i}",
            "invocation_index": 0,
            "tool_calls": [{"name": "t", "args": {"i": i % 2}}],
        }
        for i in range(4)
    ]
    [row] = case_table(sessions, turns, k=2)
    assert (
        row["pass_hat_k"] == pytest.approx(1 / 6)
        and row["trajectory_variants"] == 2
        and row["trajectory_differs"]
    )
    # fewer trials than k: no pass^k (not pass^4 under the name pass^5), and the case is counted
    [short] = case_table(sessions, turns, k=5)
    assert short["pass_hat_k"] is None and short["pass_at_k"] is None
    summary = reliability_summary([row, short])
    assert summary["pass_k_short_cases"] == 1 and summary["pass_hat_k"] == pytest.approx(1 / 6)


def test_finer_tool_counts():
    actual = [
        {"name": "get_weather", "args": {"city": "Boston", "units": "c"}},
        {"name": "nope", "args": {}},
    ]
    expected = [{"name": "get_weather", "args": {"city": "New York", "units": "c"}}]
    counts = tool_counts(actual, expected, known_tools={"get_weather"})
    assert (
        counts["unknown_tool_calls"] == 1
        and counts["args_compared"] == 1
        and counts["args_matched"] == 0
    )
    assert counts["args_partial_sum"] == 0.5 and not counts["unexpected_call"]
    assert tool_counts(actual, [], known_tools=None)["unexpected_call"]
    assert arg_credit({}, {}) == 1.0 and arg_credit({"a": 1}, {}) == 0.0
    rows = {
        r["tool"]: r
        for r in tool_table(
            [{"tool_calls": json.dumps(actual), "expected_tool_calls": expected}], {"get_weather"}
        )
    }
    assert (
        rows["get_weather"]["recall"] == 1.0
        and rows["nope"]["unknown"]
        and rows["nope"]["precision"] == 0.0
    )


@pytest.mark.parametrize(
    ("text", "parser", "hit"),
    [
        ('<tool_call>\n{"name": "f", "arguments": {}</tool_call>', "hermes", True),
        ('[get_weather(city="Paris")]', "pythonic", True),
        ("The weather is fine.", "pythonic", False),
        ('{"name": "f", "parameters": {"a": 1}}', "llama3_json", True),
        ("[TOOL_CALLS] [{...}]", "mistral", True),
        ("Sure, here it is.", "hermes", False),
        # attach mode without --tool-parser: every known format, not only JSON
        ('[get_weather(city="Paris")]', None, True),
        ("[TOOL_CALLS] [{...}]", None, True),
        ("The weather is fine.", None, False),
    ],
)
def test_unparsed_tool_call_patterns(text, parser, hit):
    assert looks_like_unparsed_call(text, parser) is hit


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = [(0.1, 0.0), (0.2, 50.0), (0.4, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.2)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.3)
    assert histogram_quantile(0.5, []) is None


def test_server_summary_takes_deltas_over_the_window():
    def scrape(t, hits, queries, bucket_counts, kv):
        samples = [
            ["vllm:prefix_cache_hits_total", '{"engine":"0"}', hits],
            ["vllm:prefix_cache_queries_total", '{"engine":"0"}', queries],
            ["vllm:kv_cache_usage_perc", '{"engine":"0"}', kv],
        ]
        samples.append(["vllm:time_to_first_token_seconds_sum", "{}", 0.05 * bucket_counts[-1][1]])
        samples.append(["vllm:time_to_first_token_seconds_count", "{}", bucket_counts[-1][1]])
        for le, count in bucket_counts:
            samples.append(
                ["vllm:time_to_first_token_seconds_bucket", json.dumps({"le": le}), count]
            )
        return {"timestamp": t, "samples": samples}

    scrapes = [
        scrape(0, 10, 100, [("0.1", 5), ("+Inf", 5)], 0.0),  # before the window
        scrape(5, 20, 150, [("0.1", 6), ("+Inf", 8)], 0.5),
        scrape(10, 40, 200, [("0.1", 7), ("+Inf", 15)], 0.3),  # after it
    ]
    row = server_summary(scrapes, start=1, end=9)
    assert row["server_prefix_cache_hits"] == 30 and row["server_prefix_cache_queries"] == 100
    assert row["prefix_cache_hit_rate"] == pytest.approx(0.3)
    assert row["kv_cache_usage_max"] == 0.5  # only scrapes inside [first, last]
    # the +Inf bucket gives only a bound; the mean is exact, from _sum / _count
    assert row["server_ttft_p50_ms"] is None and row["server_ttft_p50_ms_bound"] == "> 100 ms"
    assert row["server_ttft_mean_ms"] == pytest.approx(50.0)


def test_roofline():
    assert roofline([], 7_760_000_000, 1, 5.0)["roofline_note"].startswith("not applicable")
    row = roofline([{"name": "NVIDIA H100 80GB HBM3 SXM"}], 7_760_000_000, 1, 4.0)
    assert row["roofline_bound_tokens_per_s"] == pytest.approx(3.35e12 / 7.76e9)
    assert row["roofline_efficiency_pct"] == pytest.approx(100 * 250 / (3.35e12 / 7.76e9))


def test_roofline_prefers_the_server_tpot():
    gpu = [{"name": "NVIDIA H100 80GB HBM3 SXM"}]
    row = roofline(gpu, 7_760_000_000, 1, 2.5, server_tpot_ms=4.0)  # client TPOT reads low
    assert row["roofline_achieved_tokens_per_s"] == pytest.approx(250.0)
    assert row["roofline_note"].endswith("server TPOT")
    assert roofline(gpu, 7_760_000_000, 1, 4.0)["roofline_note"].endswith("client TPOT")


def test_session_slo_counts_the_late_start_in_an_open_loop():
    from bench.scoring.goodput import mark_slo

    turns = [{"turn_id": "t", "session_id": "s", "latency_ms": 10.0, "trajectory_score": 1.0}]
    late = {"session_id": "s", "duration_ms": 900.0, "start_delay_ms": 500.0, "case_passed": True}
    on_time = {**late, "start_delay_ms": 0.0}
    mark_slo([], turns, [late, on_time], {"session_ms": 1000.0})
    assert late["slo_met"] is False and on_time["slo_met"] is True
