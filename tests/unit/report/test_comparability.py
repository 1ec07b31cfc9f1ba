"""`bench compare` says up front what makes runs not like for like: each setting, from runs
built (by the real results builder) to differ in exactly that one; accuracy across eval sets is
left blank; runs whose requests hung never compare as clean."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.report.compare import OTHER_EVALSET, CompareOptions, compare_runs
from bench.report.compare_format import to_json, to_markdown
from bench.report.runs import Run, find_runs
from tests.unit.report.runs_factory import write_run

SESSIONS = 12
GPU = {"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_mib": 81559}
BASE_PROVENANCE = {
    "eval_set_sha256": "aa" * 32, "model_source": "google/gemma-3-4b-it", "weight_bytes": 8_600_000_000,
    "vllm_version": "0.32.0", "bench_version": "0.1.0", "git_sha": "e024a1faab" + "0" * 30,
    "gpus": [GPU], "cpu_model": "AMD EPYC 9654", "cpu_count": 192,
    "engine_flags": {"max_num_seqs": 8, "enable_prefix_caching": True},
}  # fmt: skip

# setting -> (what the other run changes, the two values the listing shows)
CHANGES = {
    "eval-set content": ({"provenance": {"eval_set_sha256": "bb" * 32}},
                         "weather_time aaaaaaaaaaaa", "weather_time bbbbbbbbbbbb"),
    "criteria tool_trajectory_avg_score": (
        {"criteria": {"tool_trajectory_avg_score": {"threshold": 0.5, "match_type": "IN_ORDER"}}},
        '{"match_type": "EXACT", "threshold": 1.0}', '{"match_type": "IN_ORDER", "threshold": 0.5}'),
    "model": ({"model": "qwen3-4b"}, "tiny", "qwen3-4b"),
    "served weights": ({"provenance": {"weight_bytes": 4_300_000_000}},
                       "google/gemma-3-4b-it, 8600000000 bytes", "google/gemma-3-4b-it, 4300000000 bytes"),
    "engine flag max_num_seqs": ({"provenance": {"engine_flags": {"max_num_seqs": 64, "enable_prefix_caching": True}}},
                                 "8", "64"),
    "stream": ({"stream": False}, "streamed", "not streamed"),
    "tool choice": ({"tool_choice": "required_when_expected"}, "auto", "required_when_expected"),
    "reasoning parser": ({"summary_info": {"reasoning_parser": "qwen3"}}, "none", "qwen3"),
    "thinking": ({"summary_info": {"thinking": "off", "thinking_budget": 256}}, "model default",
                 "off, budget 256"),
    "vLLM version": ({"provenance": {"vllm_version": "0.33.1"}}, "0.32.0", "0.33.1"),
    "bench version": ({"provenance": {"bench_version": "0.2.0"}},
                      "0.1.0 (e024a1faab)", "0.2.0 (e024a1faab)"),
    "GPUs": ({"provenance": {"gpus": [GPU, {**GPU, "index": 1}]}},
             "1x NVIDIA H100 80GB HBM3", "2x NVIDIA H100 80GB HBM3"),
    "CPU": ({"provenance": {"cpu_model": "Intel Xeon 8480+", "cpu_count": 112}},
            "AMD EPYC 9654, 192 cores", "Intel Xeon 8480+, 112 cores"),
}  # fmt: skip


def _run(root: Path, name: str, seed: int, **change) -> Path:
    provenance = {**BASE_PROVENANCE, **change.pop("provenance", {})}
    return write_run(root, name, sessions=SESSIONS, seed=seed, provenance=provenance, **change)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("base"), "base", seed=0)


@pytest.mark.parametrize("setting", list(CHANGES))
def test_each_setting_that_differs_is_listed_alone(setting: str, base: Path, tmp_path: Path):
    change, before, after = CHANGES[setting]
    other = _run(tmp_path, "other", seed=1, **change)
    comparison = compare_runs(find_runs([base, other]), CompareOptions(resamples=100))
    listed = {d.setting: d.values for d in comparison.differences}
    assert listed == {setting: [(before, ["base"]), (after, ["other"])]}
    assert f"{setting}: {before} (base); {after} (other)" in to_markdown(comparison)


def test_identical_settings_list_nothing(base: Path, tmp_path: Path) -> None:
    again = _run(tmp_path, "again", seed=1)
    comparison = compare_runs(find_runs([base, again]), CompareOptions(resamples=100))
    assert comparison.differences == [] and comparison.warnings == []
    assert "Not like for like" not in to_markdown(comparison)


def test_an_attached_endpoint_is_named_and_a_missing_value_is_not_recorded(base, tmp_path):
    attached = _run(tmp_path, "attached", seed=1, provenance={"endpoint_attached": True,
                                                                "vllm_version": None})  # fmt: skip
    (attached / "config.resolved.toml").write_text('[server]\nendpoint = "http://gpu-7:8000/v1"\n')
    comparison = compare_runs(find_runs([base, attached]), CompareOptions(resamples=100))
    listed = {d.setting: d.values for d in comparison.differences}
    assert listed == {
        "attached endpoint": [("not recorded", ["base"]), ("http://gpu-7:8000/v1", ["attached"])],
        "vLLM version": [("0.32.0", ["base"]), ("not recorded", ["attached"])],
    }


def test_accuracy_across_eval_sets_is_blank_with_the_reason(base: Path, tmp_path: Path) -> None:
    other = _run(tmp_path, "home", seed=1, eval_set_id="home_automation", accuracy=0.2,
                 provenance={"eval_set_sha256": "cc" * 32})  # fmt: skip
    runs = find_runs([base, other])
    rows = compare_runs(runs, CompareOptions(resamples=100)).frame.set_index("run_id")
    for metric in ("task_success_rate", "tool_accuracy"):
        assert (
            pd.isna(rows.loc["home", metric]) and rows.loc["home", f"{metric}_why"] == OTHER_EVALSET
        )
        assert rows.loc["base", metric] == pytest.approx(Run(base).summary[metric])
    # latency and throughput still compare
    assert rows.loc["home", "turn_p50_ms_delta_pct"] == pytest.approx(
        (Run(other).summary["turn_p50_ms"] / Run(base).summary["turn_p50_ms"] - 1) * 100
    )
    comparison = compare_runs(runs, CompareOptions(resamples=100))
    text = to_markdown(comparison)
    assert "| home | " in text and " n/a " in text and "accuracy left blank for home" in text
    allowed = compare_runs(runs, CompareOptions(resamples=100, allow_different_evalsets=True))
    shown = allowed.frame.set_index("run_id")
    assert shown.loc["home", "tool_accuracy"] == pytest.approx(Run(other).summary["tool_accuracy"])
    assert not any("accuracy left blank" in w for w in allowed.warnings)


def test_a_saturated_client_is_named(base: Path, tmp_path: Path) -> None:
    busy = _run(tmp_path, "busy", seed=1, client_cpu_pct=97.0, client_lag_ms=400.0)
    comparison = compare_runs(find_runs([base, busy]), CompareOptions(resamples=100))
    assert Run(busy).summary["client_saturated"] is True
    assert [w for w in comparison.warnings if w.startswith("client saturated in busy:")]


def test_a_run_whose_requests_hung_does_not_compare_as_clean(base: Path, tmp_path: Path) -> None:
    hung = _run(tmp_path, "hung", seed=1, stalled=3)
    comparison = compare_runs(find_runs([base, hung]), CompareOptions(resamples=100))
    assert comparison.unfinished["base"].clean and not comparison.unfinished["hung"].clean
    (warning,) = [w for w in comparison.warnings if w.startswith("WARNING: hung")]
    assert "3 turns incomplete (in flight after the drain)" in warning
    assert "hung [unclean]" in to_markdown(comparison)
    assert '"clean": false' in to_json(comparison)


def test_the_drain_columns_are_read_when_present(base: Path, tmp_path: Path) -> None:
    """Runs with the drain (issue 26) carry sessions_incomplete & co.; older runs do not."""
    later = _run(tmp_path, "later", seed=1)
    table = pq.read_table(later / "summary.parquet")
    for name, value in (("sessions_incomplete", 2), ("sessions_failed", 1),
                        ("sessions_unscored", 0), ("calls_finish_length", 4)):  # fmt: skip
        index = table.schema.get_field_index(name)
        if index < 0:
            table = table.append_column(name, [[value]])
        else:
            column = pa.array([value], type=table.schema.field(index).type)
            table = table.set_column(index, name, column)
    pq.write_table(table, later / "summary.parquet")  # keeps the schema metadata
    comparison = compare_runs(find_runs([base, later]), CompareOptions(resamples=100))
    finished = comparison.unfinished["later"]
    assert not finished.clean and finished.incomplete == {"sessions_incomplete": 2}
    assert finished.counts == {"sessions_failed": 1, "calls_finish_length": 4}
    assert any("2 sessions incomplete" in w for w in comparison.warnings)
    assert "counts of later: sessions_failed 1, calls_finish_length 4" in comparison.notes


def test_a_run_that_did_not_complete_is_named(base: Path, tmp_path: Path) -> None:
    stopped = _run(tmp_path, "stopped", seed=1, status="interrupted")
    comparison = compare_runs(find_runs([base, stopped]), CompareOptions(resamples=100))
    assert any(w.startswith("WARNING: stopped did not finish cleanly: status interrupted")
               for w in comparison.warnings)  # fmt: skip
