"""Run folders with known numbers, written by the real writer from generated raw JSONL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.results.build import build_results
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir

T0 = 1_790_000_000.0  # a fixed epoch: 2026-09-21


def _invocation(calls: list[dict]) -> dict:
    return {
        "invocation_id": "i",
        "user_content": {"role": "user", "parts": [{"text": "What is the weather?"}]},
        "intermediate_data": {"tool_uses": calls},
    }


def write_run(
    root: Path,
    name: str,
    *,
    sessions: int = 200,
    duration_s: float = 40.0,
    ttft_ms: float = 40.0,
    turn_ms: float = 300.0,
    accuracy: float = 0.8,
    errors_every: int = 0,
    users: int = 4,
    model: str = "tiny",
    seed: int = 0,
    started_at: str = "2026-09-21T10:00:00+00:00",
    tool_choice: str = "auto",
    eval_set_id: str = "weather_time",
    stream: bool = True,
    provenance: dict | None = None,
    criteria: dict | None = None,
    client_cpu_pct: float | None = None,
    client_lag_ms: float = 1.0,
    stalled: int = 0,
    status: str = "completed",
    scripted_calls: Sequence[tuple[float, float]] = (),
    summary_info: dict | None = None,
) -> Path:
    """A run of `sessions` one-turn sessions over `duration_s`; latencies drawn around the means.

    `provenance` is merged over the default one; `client_cpu_pct` writes the load process's
    samples at that CPU and `client_lag_ms` event-loop lag (above 10% of TTFT p50 the client is
    saturated: its calls carry no pull delays, so the lag stands in); `stalled` adds that many sessions
    whose one turn was still running at the stop after 60 s (hung requests); `scripted_calls`
    replaces the drawn LLM calls by calls at known times, (seconds after T0, duration in ms),
    spread over the sessions' turns."""
    rng = np.random.default_rng(seed)
    run = root / name
    (run / "raw").mkdir(parents=True)
    write_manifest(RunDir(run), Manifest.model_validate({
        "run_id": name, "status": status, "started_at": started_at,
        "criteria": criteria or {"tool_trajectory_avg_score": {"threshold": 1.0, "match_type": "EXACT"}},
        "provenance": {"model": model, "eval_set_id": eval_set_id, "engine_flags": {"max_num_seqs": users * 2},
                       "load": {"users": users}, **(provenance or {})},
        "summary_info": {"model": model, "served_model_name": model, "eval_set_id": eval_set_id,
                         "users": users, "processes": 1, "stream": stream, "tool_choice": tool_choice,
                         **(summary_info or {})},
    }))  # fmt: skip
    calls, turns, sess = [], [], []
    expected = [{"name": "get_weather", "args": {"city": "Paris"}}]
    for i in range(sessions):
        sid = f"{name}-s{i}"
        start = T0 + i * duration_s / sessions
        latency = float(rng.gamma(8.0, turn_ms / 8.0))
        right = rng.random() < accuracy
        actual = expected if right else [{"name": "get_current_time", "args": {"city": "Paris"}}]
        error = bool(errors_every) and i % errors_every == 0
        for k in range(2):
            calls.append({
                "session_id": sid, "turn_id": f"{sid}:0", "call_index": k, "agent_name": "a",
                "started_at": start + k * latency / 2000, "ttft_ms": float(rng.gamma(8.0, ttft_ms / 8.0)),
                "e2e_ms": latency / 2, "tpot_ms": float(rng.gamma(8.0, 10 / 8.0)), "prompt_tokens": 100,
                "completion_tokens": 8, "finish_reason": "stop", "tool_calls_n": 1 - k, "stream": True,
                "warmup": False, "error_type": None, "error": None, "pid": 1,
            })  # fmt: skip
        turns.append({
            "session_id": sid, "turn_id": f"{sid}:0", "case_id": f"case_{i % 3}", "eval_set_id": "weather_time",
            "trial": 0, "invocation_index": 0, "invocation_id": "i", "started_at": start,
            "ended_at": start + latency / 1000, "latency_ms": latency, "llm_calls": 2,
            "tool_calls": actual, "expected_tool_calls": expected, "final_response": "ok",
            "expected_response": None, "tool_errors": 0, "error_type": "Timeout" if error else None,
            "error": "timed out" if error else None, "warmup": False,
            "actual_invocation": _invocation(actual), "expected_invocation": _invocation(expected), "pid": 1,
        })  # fmt: skip
        sess.append({
            "session_id": sid, "case_id": f"case_{i % 3}", "eval_set_id": "weather_time", "trial": 0,
            "ticket": i, "started_at": start, "ended_at": start + latency / 1000, "duration_ms": latency,
            "turns": 1, "turns_expected": 1, "errors": int(error), "warmup": False, "pid": 1, "user_index": 0,
        })  # fmt: skip
    for i in range(stalled):  # started mid-run, still waiting for the server at the stop
        sid, start, age_ms = f"{name}-hung{i}", T0 + duration_s / 2, 60_000.0
        turns.append({
            "session_id": sid, "turn_id": f"{sid}:0", "case_id": "case_0", "eval_set_id": "weather_time",
            "trial": 0, "invocation_index": 0, "invocation_id": None, "started_at": start,
            "ended_at": start + age_ms / 1000, "latency_ms": age_ms, "llm_calls": 1, "tool_calls": [],
            "expected_tool_calls": expected, "error_type": None, "truncated": True, "warmup": False, "pid": 1,
        })  # fmt: skip
        sess.append({
            "session_id": sid, "case_id": "case_0", "eval_set_id": "weather_time", "trial": 0,
            "ticket": sessions + i, "started_at": start, "ended_at": start + age_ms / 1000,
            "duration_ms": age_ms, "turns": 0, "turns_expected": 1, "errors": 0, "truncated": True,
            "warmup": False, "pid": 1, "user_index": 0,
        })  # fmt: skip
    if scripted_calls:  # a known overlap: the truth of the in-flight count
        calls = [
            {**calls[0], "session_id": f"{name}-s{k % sessions}", "turn_id": f"{name}-s{k % sessions}:0",
             "call_index": k // sessions, "started_at": T0 + start_s, "e2e_ms": duration_ms}
            for k, (start_s, duration_ms) in enumerate(scripted_calls)
        ]  # fmt: skip
    client = [
        {"timestamp": T0 + k, "pid": 1, "cpu_percent": client_cpu_pct, "gevent_lag_ms": 1.0,
         "asyncio_lag_ms": client_lag_ms}
        for k in range(int(duration_s))
    ] if client_cpu_pct is not None else []  # fmt: skip
    tables = (("llm_calls", calls), ("turns", turns), ("sessions", sess), ("client", client))
    for table, records in tables:
        if not records:
            continue
        with (run / "raw" / f"{table}.1.jsonl").open("w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in records)
    build_results(run)
    return run
