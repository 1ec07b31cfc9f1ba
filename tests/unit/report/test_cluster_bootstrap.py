"""The noise mark resamples sessions, not calls: calls of one session are not independent.

Each session here has a session-level latency offset shared by all its LLM calls (a slow
prompt, a long history) plus a little per-call noise. Two runs of the same system then differ
by chance in which sessions they drew; with many calls per session, resampling calls as if
independent calls that difference real. Resampling sessions does not, and still sees a change
far larger than the spread between sessions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.report.compare import CompareOptions, compare_runs
from bench.report.metrics import METRICS, samples
from bench.report.runs import Run, find_runs
from bench.report.stats import difference_interval
from bench.results.build import build_results
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir

T0 = 1_790_000_000.0
SESSIONS, CALLS = 16, 40
TTFT = METRICS["ttft_p50_ms"]


def write_correlated_run(root: Path, name: str, seed: int, shift_ms: float = 0.0) -> Path:
    """SESSIONS one-turn sessions of CALLS LLM calls; TTFT = 100 + session offset + shift + noise,
    offsets ~ N(0, 30 ms), per-call noise ~ N(0, 2 ms)."""
    rng = np.random.default_rng(seed)
    run = root / name
    (run / "raw").mkdir(parents=True)
    write_manifest(RunDir(run), Manifest.model_validate({
        "run_id": name, "status": "completed", "started_at": "2026-09-21T10:00:00+00:00",
        "criteria": {"tool_trajectory_avg_score": 1.0},
        "summary_info": {"model": "tiny", "eval_set_id": "x", "users": 4, "processes": 1, "stream": True},
    }))  # fmt: skip
    calls, turns, sessions = [], [], []
    for i in range(SESSIONS):
        sid, start = f"{name}-s{i}", T0 + i * 2.0
        offset = rng.normal(0, 30)
        for k in range(CALLS):
            calls.append({
                "session_id": sid, "turn_id": f"{sid}:0", "call_index": k, "started_at": start + k * 0.04,
                "ttft_ms": 100 + offset + shift_ms + rng.normal(0, 2), "e2e_ms": 30.0, "completion_tokens": 4,
                "warmup": False, "error_type": None,
            })  # fmt: skip
        turns.append({
            "session_id": sid, "turn_id": f"{sid}:0", "case_id": "c", "invocation_index": 0,
            "started_at": start, "ended_at": start + 1.7, "latency_ms": 1700.0, "llm_calls": CALLS,
            "warmup": False, "error_type": None,
        })  # fmt: skip
        sessions.append({
            "session_id": sid, "case_id": "c", "started_at": start, "ended_at": start + 1.7,
            "duration_ms": 1700.0, "turns": 1, "turns_expected": 1, "errors": 0, "warmup": False,
        })  # fmt: skip
    for table, records in (("llm_calls", calls), ("turns", turns), ("sessions", sessions)):
        (run / "raw" / f"{table}.1.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records)
        )
    build_results(run)
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("clustered")
    paths = {
        "base": write_correlated_run(root, "base", seed=11),
        "again": write_correlated_run(root, "again", seed=12),  # the same system
        "slower": write_correlated_run(root, "slower", seed=13, shift_ms=150.0),  # 5x the spread
    }
    return {name: find_runs([path])[0] for name, path in paths.items()}


def test_same_system_is_noise_when_sessions_are_resampled(runs: dict[str, Run]) -> None:
    base, again = samples(runs["base"], TTFT), samples(runs["again"], TTFT)
    assert len(base.data) == SESSIONS * CALLS and len(set(base.sessions)) == SESSIONS
    # resampling calls as if independent calls the chance difference between runs real ...
    naive = difference_interval(TTFT, base.data, again.data)
    assert naive.contains(0.0) is False, "the fixture must differ by chance between sessions"
    # ... resampling sessions does not
    clustered = difference_interval(TTFT, base.data, again.data, base.sessions, again.sessions)
    assert clustered.contains(0.0) is True
    assert clustered.high - clustered.low > 5 * (naive.high - naive.low)


def test_compare_marks_a_chance_difference_as_noise_and_a_real_one_as_real(runs) -> None:
    options = CompareOptions(metrics=["ttft_p50_ms", "ttft_p90_ms", "llm_e2e_p50_ms"])
    rows = compare_runs([runs["base"], runs["again"], runs["slower"]], options).frame
    rows = rows.set_index("run_id")
    assert rows.loc["again", "ttft_p50_ms_noise"] is True
    assert rows.loc["again", "ttft_p90_ms_noise"] is True
    assert rows.loc["slower", "ttft_p50_ms_noise"] is False
    assert rows.loc["slower", "ttft_p90_ms_noise"] is False
    assert rows.loc["slower", "ttft_p50_ms_diff_ci_low"] > 50
