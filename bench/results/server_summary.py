"""Server-side figures over the measured window, from scraped /metrics.

Counters and histograms are cumulative since the server started, so every figure is a
difference between the last scrape at or before the window start and the first scrape at or
after its end. Percentiles come from histogram bucket deltas, interpolated linearly within the
bucket as Prometheus' histogram_quantile does, except where the buckets cannot tell: a
percentile in the first bucket (below vLLM's 0.3 s for queue and e2e time) or in the +Inf bucket
is stored as null with a text bound in `<column>_bound` ("< 300 ms", "> 60000 ms"), never as a
made-up number. Means come from `_sum/_count` and are exact. Gauges are averaged over the scrapes
in the window.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from bench.schemas.summaries import PCTS

HISTOGRAMS = {
    "server_ttft": "vllm:time_to_first_token_seconds",
    "server_tpot": "vllm:request_time_per_output_token_seconds",
    "server_e2e": "vllm:e2e_request_latency_seconds",
    "server_queue": "vllm:request_queue_time_seconds",
}
COUNTERS = {
    "server_requests": "vllm:request_success_total",
    "server_prompt_tokens": "vllm:prompt_tokens_total",
    "server_generation_tokens": "vllm:generation_tokens_total",
    "server_preemptions": "vllm:num_preemptions_total",
    "server_prefix_cache_queries": "vllm:prefix_cache_queries_total",
    "server_prefix_cache_hits": "vllm:prefix_cache_hits_total",
    "server_tool_parser_invocations": "vllm:tool_call_parser_invocations_total",
}

Scrape = dict[str, Any]  # {"timestamp": float, "samples": [[name, labels_json, value], ...]}


def window_scrapes(
    scrapes: list[Scrape], start: float | None, end: float | None
) -> tuple[Scrape, Scrape, list[Scrape]] | None:
    """(scrape at/before start, scrape at/after end, scrapes in between) or None when too few."""
    if len(scrapes) < 2 or start is None or end is None:
        return None
    ordered = sorted(scrapes, key=lambda s: s["timestamp"])
    # A snapshot lies between a scrape's request and its answer: the baseline must have been
    # answered before the window starts, the closing scrape requested after it ends.
    start_s, end_s = float(start), float(end)
    before = [s for s in ordered if float(s.get("answered_at") or s["timestamp"]) <= start_s]
    after = [s for s in ordered if s["timestamp"] >= end_s]
    first = before[-1] if before else ordered[0]
    last = after[0] if after else ordered[-1]
    if last["timestamp"] <= first["timestamp"]:
        return None
    inside = [s for s in ordered if first["timestamp"] <= s["timestamp"] <= last["timestamp"]]
    return first, last, inside


def _sum_by(scrape: Scrape, name: str, key: str | None = None) -> dict[str, float]:
    """Values of one sample name summed over labels, grouped by one label (`le`) or all together."""
    import json

    out: dict[str, float] = defaultdict(float)
    for sample_name, labels, value in scrape["samples"]:
        if sample_name == name:
            group = json.loads(labels).get(key, "") if key else ""
            out[group] += value
    return out


def counter_delta(first: Scrape, last: Scrape, name: str) -> float | None:
    a, b = _sum_by(first, name), _sum_by(last, name)
    if not b:
        return None
    return b.get("", 0.0) - a.get("", 0.0)


def histogram_delta(first: Scrape, last: Scrape, name: str) -> list[tuple[float, float]]:
    """[(upper bound, cumulative count in the window)] sorted by bound."""
    a, b = _sum_by(first, name + "_bucket", "le"), _sum_by(last, name + "_bucket", "le")
    return sorted((float(le), b[le] - a.get(le, 0.0)) for le in b)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g} ms"


def quantile_or_bound(
    q: float, buckets: list[tuple[float, float]]
) -> tuple[float | None, str | None]:
    """(value in s, None) inside the buckets' resolution, else (None, "< first" or "> last bound")."""
    if not buckets or buckets[-1][1] <= 0:
        return None, None
    rank = q * buckets[-1][1]
    first = next((i for i, (_, count) in enumerate(buckets) if count >= rank), len(buckets) - 1)
    bound = buckets[first][0]
    if math.isinf(bound):
        finite = [b for b, _ in buckets if not math.isinf(b)]
        return None, f"> {_ms(finite[-1])}" if finite else None
    if first == 0:
        return None, f"< {_ms(bound)}"
    return histogram_quantile(q, buckets), None


def _gauge(scrapes: list[Scrape], name: str) -> list[float]:
    values = []
    for scrape in scrapes:
        summed = _sum_by(scrape, name)
        if summed:
            values.append(summed[""])
    return values


def server_summary(scrapes: list[Scrape], start: float | None, end: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {}
    picked = window_scrapes(scrapes, start, end)
    if picked is None:
        return row
    first, last, inside = picked
    for prefix, name in HISTOGRAMS.items():
        buckets = histogram_delta(first, last, name)
        for p in PCTS:
            value, bound = quantile_or_bound(p / 100, buckets)
            row[f"{prefix}_p{p}_ms"] = value * 1000 if value is not None else None
            row[f"{prefix}_p{p}_ms_bound"] = bound
        # Exact, unlike the percentiles, which are only as fine as vLLM's buckets.
        total, count = (
            counter_delta(first, last, name + "_sum"),
            counter_delta(first, last, name + "_count"),
        )
        row[f"{prefix}_mean_ms"] = 1000 * total / count if total is not None and count else None
    for column, name in COUNTERS.items():
        row[column] = counter_delta(first, last, name)
    queries, hits = row.get("server_prefix_cache_queries"), row.get("server_prefix_cache_hits")
    row["prefix_cache_hit_rate"] = hits / queries if queries else None
    kv = _gauge(inside, "vllm:kv_cache_usage_perc")
    row["kv_cache_usage_mean"] = sum(kv) / len(kv) if kv else None
    row["kv_cache_usage_max"] = max(kv) if kv else None
    running, waiting = (
        _gauge(inside, "vllm:num_requests_running"),
        _gauge(inside, "vllm:num_requests_waiting"),
    )
    row["requests_running_max"] = max(running) if running else None
    row["requests_waiting_max"] = max(waiting) if waiting else None
    row["server_window_start"] = first["timestamp"]
    row["server_window_end"] = last["timestamp"]
    return row
