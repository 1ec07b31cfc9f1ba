"""History in one command: `bench results list` (one line per run, filtered) and
`bench compare --history METRIC` (a metric over the runs of one configuration)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.cli.app import main
from bench.report.history import metric_history
from bench.report.run_list import list_runs
from bench.report.runs import find_runs
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from tests.unit.report.runs_factory import write_run

DAY = "2026-09-{:02d}T10:00:00+00:00"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four nightly runs of one configuration (vLLM upgraded on day 3, slower turns from day 4),
    one of another model, one of another eval set, a run that failed before any table, and a
    sweep folder holding a combination run."""
    root = tmp_path_factory.mktemp("history")
    for day, (turn_ms, vllm) in enumerate([(300, "0.32.0"), (300, "0.32.0"), (300, "0.33.0"),
                                           (420, "0.33.0")], start=1):  # fmt: skip
        write_run(root, f"nightly-{day}", sessions=60, seed=day, turn_ms=float(turn_ms),
                  started_at=DAY.format(day), provenance={"vllm_version": vllm})  # fmt: skip
    write_run(root, "qwen", sessions=60, model="qwen3-4b", started_at=DAY.format(2))
    write_run(root, "home", sessions=60, eval_set_id="home_automation", started_at=DAY.format(3))
    failed = RunDir(root / "failed-early")
    failed.path.mkdir()
    write_manifest(failed, Manifest.model_validate({
        "run_id": "failed-early", "status": "server_failed", "started_at": DAY.format(5),
        "summary_info": {"model": "tiny", "eval_set_id": "weather_time", "users": 4},
    }))  # fmt: skip
    write_run(root / "sweep-1", "c00-tiny-max-num-seqs-8", sessions=20, started_at=DAY.format(6))
    return root


def test_results_list_is_one_line_per_run(root: Path, capsys) -> None:
    frame = list_runs([root])
    assert list(frame["run"]) == ["nightly-1", "nightly-2", "qwen", "home", "nightly-3",
                                  "nightly-4", "failed-early", "sweep-1/c00-tiny-max-num-seqs-8"]  # fmt: skip
    failed = frame.set_index("run").loc["failed-early"]
    assert failed["status"] == "server_failed" and pd.isna(failed["sessions/s"])
    assert frame.set_index("run").loc["nightly-4", "load"] == "users 4"
    main(["results", "list", str(root)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 8 and lines[0].split()[:3] == ["run", "started", "status"]
    assert "nightly-4" in lines[6] and "2026-09-04 10:00" in lines[6] and "completed" in lines[6]


def test_results_list_filters(root: Path, capsys) -> None:
    assert list(list_runs([root], model="qwen3-4b")["run"]) == ["qwen"]
    assert list(list_runs([root], evalset="home_automation")["run"]) == ["home"]
    since = list_runs([root], since="2026-09-04")
    assert list(since["run"]) == ["nightly-4", "failed-early", "sweep-1/c00-tiny-max-num-seqs-8"]
    main(["results", "list", str(root), "--model", "tiny", "--since", "2026-09-03", "-f", "json"])
    listed = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in listed] == ["home", "nightly-3", "nightly-4", "failed-early",
                                          "sweep-1/c00-tiny-max-num-seqs-8"]  # fmt: skip
    with pytest.raises(SystemExit) as bad:
        main(["results", "list", str(root), "--since", "yesterday"])
    assert bad.value.code == 2 and "--since" in capsys.readouterr().err


def test_history_follows_one_configuration(root: Path, capsys) -> None:
    runs = find_runs([root])
    history = metric_history(runs, "turn_p50_ms")  # the newest run's configuration
    frame = history.frame.set_index("run_id")
    assert list(frame.index) == ["nightly-1", "nightly-2", "nightly-3", "nightly-4"]
    assert set(history.others) == {"qwen", "home"}
    assert frame.loc["nightly-2", "noise"] is True and frame.loc["nightly-4", "noise"] is False
    assert frame.loc["nightly-4", "change_pct"] == pytest.approx(
        (frame.loc["nightly-4", "turn_p50_ms"] / frame.loc["nightly-3", "turn_p50_ms"] - 1) * 100
    )
    main(["compare", str(root), "--history", "turn_p50_ms", "-f", "markdown"])
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("| 2026")]
    assert len(rows) == 4 and "vLLM 0.33.0" in rows[2] and "vLLM" not in rows[3]  # the upgrade
    assert "≈" in rows[1] and "≈" not in rows[3] and "%" in rows[3]
    main(["compare", str(root), "--history", "turn_p50_ms", "--baseline", "qwen"])
    assert "with the configuration of qwen" in capsys.readouterr().out
