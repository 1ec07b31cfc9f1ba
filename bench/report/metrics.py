"""The headline metrics `bench compare` shows, and how each is rebuilt from per-record data.

Every metric is a column of `summary.parquet` (the value shown). For the noise test each one is
also recomputed from the records it summarises, so it can be bootstrapped (records of one
session are resampled together: see `bench.report.stats`):

- percentile: per-call (`llm_calls`) or per-turn/session latencies of completed items (no
  failures, no incomplete items, no warm-up); the by-reply-kind ones over the calls of that
  kind; ITL over every gap of those calls, each gap resampled with its call's session;
- mean: per-turn scores of completed turns (tool accuracy, trajectory, ROUGE), the error
  indicator over turns not incomplete, or per-session pass/fail (task success);
- ratio: sums over completed turns (tool-name precision and recall, argument exact match);
- rate: successes (or, for `failed_*`, failures) per time bin over the measured window (a block
  bootstrap over time);

Successes, failures and incomplete records are told apart as in `bench.scoring.outcome`.
- server: the server's histogram percentiles (/metrics): no per-record data, so no noise mark;
  a percentile outside the buckets' resolution shows its bound (`<name>_bound`, "< 300 ms").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from bench.report.runs import Run
from bench.results.reply_kinds import itl_gaps
from bench.schemas.records import TEXT_REPLY, TOOL_CALL_REPLY
from bench.scoring.outcome import (
    CANCELLED_ERROR_TYPES,
    CUT_SHORT,
    INCOMPLETE,
    LEGACY_INCOMPLETE_KEY,
    LEGACY_OUTCOMES,
)

Kind = Literal["percentile", "mean", "ratio", "rate", "server"]
ITL_GAPS = "itl_gaps_ms"  # a list per call: the ITL percentiles pool every gap


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    kind: Kind
    higher_is_better: bool
    table: str = ""
    column: str = ""
    den: str = ""  # ratio: the denominator column
    q: float = 50.0  # percentile
    failed: bool = False  # rate: count the failed items instead of the successes
    reply_kind: str = ""  # llm_calls: only the calls whose reply was of this kind


def _latency(name: str, label: str, table: str, column: str, reply_kind: str = "") -> list[Metric]:
    return [
        Metric(
            f"{name}_p{p}_ms",
            f"{label} p{p} (ms)",
            "percentile",
            False,
            table,
            column,
            q=p,
            reply_kind=reply_kind,
        )  # fmt: skip
        for p in (50, 90, 99)
    ]


def _server(name: str, label: str) -> list[Metric]:
    return [
        Metric(f"server_{name}_p{p}_ms", f"server {label} p{p} (ms)", "server", False)
        for p in (50, 90, 99)
    ]


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("sessions_per_s", "sessions/s", "rate", True, "sessions"),
        Metric("turns_per_s", "turns/s", "rate", True, "turns"),
        Metric("llm_calls_per_s", "LLM calls/s", "rate", True, "llm_calls"),
        Metric("failed_sessions_per_s", "failed sessions/s", "rate", False, "sessions", failed=True),
        Metric("failed_turns_per_s", "failed turns/s", "rate", False, "turns", failed=True),
        Metric("failed_llm_calls_per_s", "failed LLM calls/s", "rate", False, "llm_calls", failed=True),
        Metric("output_tokens_per_s", "output tokens/s", "rate", True, "llm_calls", "completion_tokens"),
        *_latency("ttft", "TTFT", "llm_calls", "ttft_ms"),
        *_latency("tpot", "TPOT", "llm_calls", "tpot_ms"),
        *_latency("ttft_text", "TTFT text replies", "llm_calls", "ttft_ms", TEXT_REPLY),
        *_latency("ttft_tool", "TTFT tool-call replies", "llm_calls", "ttft_ms", TOOL_CALL_REPLY),
        *_latency("tpot_text", "TPOT text replies", "llm_calls", "tpot_ms", TEXT_REPLY),
        *_latency("tpot_tool", "TPOT tool-call replies", "llm_calls", "tpot_ms", TOOL_CALL_REPLY),
        *_latency("itl", "ITL", "llm_calls", ITL_GAPS),
        *_latency("tool_holdback", "tool parser hold-back", "llm_calls", "tool_holdback_ms"),
        *_latency("llm_e2e", "LLM call", "llm_calls", "e2e_ms"),
        *_latency("turn", "turn", "turns", "latency_ms"),
        *_latency("model_ttft", "model-layer TTFT", "llm_calls", "model_ttft_ms"),
        *_latency("client_overhead", "client overhead", "llm_calls", "client_overhead_ms"),
        Metric("turn_llm_wire_mean_ms", "turn: LLM on the wire (ms)", "mean", False, "turns", "llm_wire_ms"),
        Metric("turn_client_overhead_mean_ms", "turn: client overhead (ms)", "mean", False, "turns", "client_overhead_ms"),
        Metric("turn_tool_time_mean_ms", "turn: tools (ms)", "mean", False, "turns", "tool_time_ms"),
        Metric("turn_other_mean_ms", "turn: other (ms)", "mean", False, "turns", "other_ms"),
        *_latency("session", "session", "sessions", "duration_ms"),
        # a thinking model (bench.results.reasoning)
        *_latency("ttfo", "TTFO", "llm_calls", "ttfo_ms"),
        *_latency("ttfr", "time to first reasoning token", "llm_calls", "ttfr_ms"),
        Metric("reasoning_tokens_per_turn", "reasoning tokens/turn", "mean", False, "turns", "reasoning_tokens"),
        Metric("turn_thinking_mean_ms", "turn: thinking (ms)", "mean", False, "turns", "thinking_ms"),
        Metric("thinking_share", "thinking share", "ratio", False, "turns", "thinking_ms", "latency_ms"),
        Metric("task_success_rate", "task success", "mean", True, "sessions", "case_passed"),
        Metric("tool_accuracy", "tool accuracy", "mean", True, "turns", "trajectory_score"),
        Metric("tool_trajectory_exact", "trajectory EXACT", "mean", True, "turns", "trajectory_exact"),
        Metric("tool_trajectory_in_order", "trajectory IN_ORDER", "mean", True, "turns", "trajectory_in_order"),
        Metric("tool_trajectory_any_order", "trajectory ANY_ORDER", "mean", True, "turns", "trajectory_any_order"),
        Metric("response_match", "response match", "mean", True, "turns", "response_match"),
        Metric("tool_name_precision", "tool-name precision", "ratio", True, "turns", "tool_names_matched", "tool_calls_actual_n"),
        Metric("tool_name_recall", "tool-name recall", "ratio", True, "turns", "tool_names_matched", "tool_calls_expected_n"),
        Metric("arg_exact_match_rate", "argument exact match", "ratio", True, "turns", "args_matched", "args_compared"),
        Metric("error_rate", "error rate", "mean", False, "turns", "error_type"),
        *_server("ttft", "TTFT"),
        *_server("tpot", "TPOT"),
        *_server("e2e", "request e2e"),
        *_server("queue", "queue time"),
    ]
}  # fmt: skip

# Headline figures first: the terminal table shows as many of them as fit, in this order.
DEFAULT_METRICS = (
    "sessions_per_s", "turn_p50_ms", "task_success_rate", "tool_accuracy", "error_rate",
    "turn_p99_ms", "ttft_p50_ms", "ttft_text_p50_ms", "ttft_tool_p50_ms", "tpot_p50_ms",
    "turns_per_s", "output_tokens_per_s",
    "ttft_p99_ms", "client_overhead_p50_ms", "turn_llm_wire_mean_ms",
    "turn_client_overhead_mean_ms", "turn_tool_time_mean_ms", "turn_other_mean_ms",
    "ttfo_p50_ms", "reasoning_tokens_per_turn", "thinking_share",
)  # fmt: skip

# What the eval set decides: left blank against a baseline with other eval-set content or
# criteria (`bench.report.comparability.evalset_differs`).
ACCURACY_METRICS = frozenset({
    "task_success_rate", "tool_accuracy", "tool_trajectory_exact", "tool_trajectory_in_order",
    "tool_trajectory_any_order", "response_match", "tool_name_precision", "tool_name_recall",
    "arg_exact_match_rate",
})  # fmt: skip

RATE_BIN_S = 1.0
RATE_MIN_BINS = 5
RATE_MAX_BINS = 200


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return df[column].fillna("").astype(str)


def _flag(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(False, index=df.index)
    return df[column].astype("boolean").fillna(False).astype(bool)


def incomplete_mask(df: pd.DataFrame) -> pd.Series:
    """Records still running at the end of the drain (`bench.scoring.outcome.is_incomplete`,
    vectorised; older runs flagged them `truncated`)."""
    if "outcome" in df.columns:  # sessions
        return _text(df, "outcome").isin([INCOMPLETE, *LEGACY_OUTCOMES])
    flag = _flag(df, "incomplete") | _flag(df, LEGACY_INCOMPLETE_KEY)
    return flag | _text(df, "error_type").isin(CANCELLED_ERROR_TYPES)


def failed_mask(df: pd.DataFrame) -> pd.Series:
    """Failed calls and turns, sessions cut short (`bench.scoring.outcome.is_failed`)."""
    if "outcome" in df.columns:
        return _text(df, "outcome") == CUT_SHORT
    return (_text(df, "error_type") != "") & ~incomplete_mask(df)


def completed(run: Run, table: str) -> pd.DataFrame:
    """The measured records of a table that completed without error (made once per run)."""
    key = f"completed:{table}"
    if key not in run.derived:
        run.derived[key] = _ok(run.measured(table))
    return run.derived[key]


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    """Completed without error and not incomplete: what latency, throughput and tool accuracy
    count."""
    if df.empty:
        return df
    return df[~failed_mask(df) & ~incomplete_mask(df)]


EPOCH = pd.Timestamp(0, tz="UTC")


def epoch_s(series: pd.Series) -> np.ndarray:
    """UTC timestamps -> epoch seconds (NaN for missing)."""
    return (pd.to_datetime(series, utc=True) - EPOCH).dt.total_seconds().to_numpy(dtype=float)


def end_times(df: pd.DataFrame, table: str) -> np.ndarray:
    """Epoch seconds at which each record completed."""
    if table == "llm_calls":
        return epoch_s(df["started_at"]) + df["e2e_ms"].fillna(0).to_numpy(dtype=float) / 1000
    return epoch_s(df["ended_at"])


@dataclass(frozen=True)
class RateRecords:
    """What a rate counts: each record's end (epoch s), weight (1, or its output tokens) and
    session, and the measured window the rate is over."""

    ends: np.ndarray
    weights: np.ndarray
    sessions: np.ndarray
    start_s: float
    window_s: float

    def bins(self, keep: np.ndarray | None = None) -> np.ndarray:
        """Per-bin rates (items/s) over the window, of the records kept (default: all); their
        mean is the window's rate."""
        if not self.window_s:
            return np.array([])
        n_bins = int(min(RATE_MAX_BINS, max(RATE_MIN_BINS, self.window_s // RATE_BIN_S)))
        width = self.window_s / n_bins
        ends, weights = self.ends, self.weights
        if keep is not None:
            ends, weights = ends[keep], weights[keep]
        # what ended after the window (in the drain) is in no rate
        known = ~np.isnan(ends) & (ends <= self.start_s + self.window_s + 1e-3)
        index = np.clip(((ends[known] - self.start_s) // width).astype(int), 0, n_bins - 1)
        return np.bincount(index, weights=weights[known], minlength=n_bins) / width


def rate_records(run: Run, metric: Metric) -> RateRecords:
    summary = run.summary
    window_s = float(summary.get("window_s") or 0.0)
    start = summary.get("window_start")
    df = run.measured(metric.table)
    empty = np.array([])
    if not window_s or start is None or df.empty:
        return RateRecords(empty, empty, empty, 0.0, 0.0)
    start_s = pd.Timestamp(start).timestamp()
    df = df[failed_mask(df)] if metric.failed else completed(run, metric.table)
    if df.empty:
        return RateRecords(empty, empty, empty, start_s, window_s)
    if metric.column:  # weighted: output tokens of successful calls
        weights = df[metric.column].fillna(0).to_numpy(dtype=float)
    else:
        weights = np.ones(len(df))
    return RateRecords(end_times(df, metric.table), weights, _session_ids(df), start_s, window_s)


def rate_bins(run: Run, metric: Metric) -> np.ndarray:
    """Per-bin rates (items/s) over the measured window; their mean is the window's rate."""
    return rate_records(run, metric).bins()


@dataclass(frozen=True)
class Samples:
    """A metric's per-record data: shape (n,), or (n, 2) for ratios. `sessions` (aligned with
    `data`) names each record's session, so the bootstrap resamples sessions (a session-table
    metric has one record per session); None for a time series (`time_ordered`: a rate's bins,
    resampled in moving blocks) and for data without sessions."""

    data: np.ndarray
    sessions: np.ndarray | None = None
    time_ordered: bool = False

    def subset(self, keep: np.ndarray) -> Samples:
        """The records whose session is in `keep` (session names)."""
        if self.sessions is None:
            raise ValueError("records without sessions cannot be subset by session")
        mask = np.isin(self.sessions, keep)
        return Samples(self.data[mask], self.sessions[mask], self.time_ordered)


def _session_ids(df: pd.DataFrame) -> np.ndarray:
    if "session_id" not in df.columns:
        return np.arange(len(df)).astype(str)  # no sessions known: each record its own
    return df["session_id"].astype(str).to_numpy(dtype=object)


def _aligned(df: pd.DataFrame, values: np.ndarray) -> Samples:
    keep = ~np.isnan(values) if values.ndim == 1 else np.ones(len(values), dtype=bool)
    return Samples(values[keep], _session_ids(df)[keep])


def _numbers(series: pd.Series) -> np.ndarray:
    if series.dtype == bool or str(series.dtype) == "boolean":
        series = series.astype("Float64")
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def samples(run: Run, metric: Metric) -> Samples:
    """The per-record data the metric is computed from, with the session of each record."""
    if metric.kind == "server":
        return Samples(np.array([]))
    if metric.kind == "rate":
        return Samples(rate_bins(run, metric), time_ordered=True)
    df = run.measured(metric.table)
    if df.empty:
        return Samples(np.array([]))
    if metric.name == "error_rate":  # failed turns among those that are not incomplete
        df = df[~incomplete_mask(df)]
        return _aligned(df, failed_mask(df).to_numpy(dtype=float))
    if metric.table != "sessions" or metric.kind == "percentile":
        df = completed(run, metric.table)  # latency and accuracy: completed calls, turns, sessions
    if metric.reply_kind:
        if "reply_kind" not in df.columns:  # a run from before the split
            return Samples(np.array([]))
        df = df[df["reply_kind"] == metric.reply_kind]
    if metric.column not in df.columns:
        return Samples(np.array([]))
    if metric.column == ITL_GAPS:  # every gap of every call, each with its call's session
        gaps = [itl_gaps({ITL_GAPS: value}) for value in df[ITL_GAPS]]
        pooled = df.assign(**{ITL_GAPS: gaps}).explode(ITL_GAPS)
        return _aligned(pooled, _numbers(pooled[ITL_GAPS]))
    if metric.kind == "percentile" and metric.table == "sessions" and "start_delay_ms" in df:
        # open loop: session latency from the scheduled arrival, as in the summary
        values = _numbers(df[metric.column]) + np.nan_to_num(_numbers(df["start_delay_ms"]))
        return _aligned(df, values)
    if metric.kind == "ratio":  # over the records whose numerator is known (as the summary)
        df = df[df[metric.column].notna()]
        pair = df[[metric.column, metric.den]].apply(pd.to_numeric, errors="coerce").fillna(0)
        return _aligned(df, pair.to_numpy(dtype=float))
    # task success: case_passed is null for incomplete and unscored sessions, so they drop out
    return _aligned(df, _numbers(df[metric.column]))


def statistic(metric: Metric, resampled: np.ndarray) -> np.ndarray:
    """The metric of each resample; `resampled` is (B, n) or (B, n, 2)."""
    if metric.kind == "percentile":
        return np.percentile(resampled, metric.q, axis=1)
    if metric.kind == "ratio":
        den = resampled[..., 1].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, resampled[..., 0].sum(axis=1) / den, np.nan)
    return resampled.mean(axis=1)


def sessions_with_result(run: Run) -> int:
    """Measured sessions that were not truncated: the units the noise test resamples."""
    df = run.measured("sessions")
    if df.empty:
        started = run.summary.get("sessions") or 0
        return max(0, int(started) - int(run.summary.get("sessions_incomplete") or 0))
    return int((~incomplete_mask(df)).sum())
