"""A case passes only when every metric of its criteria passes, as ADK decides.

The eval set asks for response_match_score 1.0 besides an EXACT trajectory. A scripted fake server
makes every tool call right, but words some final answers differently from the reference; a real
ADK agent runs under Locust, bench builds its tables, and ADK's own LocalEvalService (what `adk
eval` runs) judges the same recorded invocations in a separate process. Bench must agree with it
session by session, and count only sessions ADK passes in task_success_rate, pass^k and cases.parquet.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from bench.load.process import LocustProcess
from bench.load.spec import LoadSpec
from bench.results.build import build_results
from bench.schemas.config import LoadConfig
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.raw import read_records
from bench.schemas.run_dir import RunDir
from bench.testing.fake_server import Reply, ToolCallReply, answered_tool, last_user_text
from tests.fixtures.scripted_fake import scripted_fake_server

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "evalsets" / "weather_time"
CASES = ("weather_london", "weather_paris", "paris_then_tokyo", "madrid_weather_and_time")
CRITERIA = {
    "tool_trajectory_avg_score": {"threshold": 1.0, "match_type": "EXACT"},
    "response_match_score": 1.0,
}
RIGHT_WEATHER = "Here is the weather report you asked for."
RIGHT_TIME = "The current time is ready for you."
CALLS = {
    "london": [ToolCallReply("get_weather", {"city": "London"})],
    "paris": [ToolCallReply("get_weather", {"city": "Paris"})],
    "tokyo": [ToolCallReply("get_current_time", {"city": "Tokyo"})],
    "madrid": [
        ToolCallReply("get_weather", {"city": "Madrid"}),
        ToolCallReply("get_current_time", {"city": "Madrid"}),
    ],
}


def right_calls_some_wrong_words(request: dict) -> Reply:
    """The expected tool calls always; the reference answer for London and Tokyo only."""
    messages = request.get("messages") or []
    user = last_user_text(messages)
    city = next(c for c in CALLS if c in user)
    if answered_tool(messages) is None:
        return Reply(tool_calls=CALLS[city])
    return Reply(
        text={"london": RIGHT_WEATHER, "tokyo": RIGHT_TIME}.get(city, f"{city.title()} is lovely.")
    )


def _agent_with_strict_evalset(root: Path) -> tuple[Path, Path]:
    agent = root / "weather_strict"
    agent.mkdir()
    for name in ("__init__.py", "agent.py"):
        shutil.copy(SOURCE / name, agent / name)
    data = json.loads((SOURCE / "weather_time.evalset.json").read_text())
    data["eval_cases"] = [c for c in data["eval_cases"] if c["eval_id"] in CASES]
    data["eval_set_id"] = "weather_strict"
    evalset = agent / "weather_strict.evalset.json"
    evalset.write_text(json.dumps(data))
    (agent / "test_config.json").write_text(json.dumps({"criteria": CRITERIA}))
    return agent, evalset


def _adk_verdicts(tmp: Path, evalset: Path, turns: list[dict]) -> dict[str, str]:
    by_session: dict[str, list[dict]] = {}
    for t in sorted(turns, key=lambda t: t["invocation_index"]):
        by_session.setdefault(t["session_id"], []).append(t)
    spec = {
        "evalset_path": str(evalset),
        "eval_set_id": "weather_strict",
        "criteria": CRITERIA,
        "sessions": [
            {"session_id": sid, "case_id": ts[0]["case_id"],
             "invocations": [t["actual_invocation"] for t in ts]}
            for sid, ts in by_session.items()
        ],
    }  # fmt: skip
    (tmp / "verdict_in.json").write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.adk_case_verdict",
         str(tmp / "verdict_in.json"), str(tmp / "verdict_out.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((tmp / "verdict_out.json").read_text())


def test_case_passes_only_when_every_criteria_metric_passes_as_adk_says(tmp_path: Path) -> None:
    agent, evalset = _agent_with_strict_evalset(tmp_path)
    run_dir = tmp_path / "strict_run"
    with scripted_fake_server(right_calls_some_wrong_words, served_model_name="strict") as url:
        spec = LoadSpec(
            run_id=run_dir.name, run_dir=run_dir, evalset=str(evalset), agent_dir=agent,
            api_base=url + "/v1", served_model_name="strict",
            load=LoadConfig(request_timeout_s=30, stream=False, sessions=8, warmup_sessions=0),
        )  # fmt: skip
        code = LocustProcess(spec, users=1, spawn_rate=1, duration_s=60).run(timeout_s=150)
    assert code == 0, (run_dir / "locust.log").read_text()[-3000:]
    write_manifest(RunDir(run_dir), Manifest.model_validate({
        "run_id": run_dir.name, "status": "completed", "criteria": CRITERIA,
        "known_tools": ["get_current_time", "get_weather"],
        "summary_info": {"eval_set_id": "weather_strict", "trials": 2},
    }))  # fmt: skip
    build_results(run_dir)

    sessions = pd.read_parquet(run_dir / "sessions.parquet")
    sessions = sessions[~sessions["warmup"]]
    assert set(sessions["case_id"]) == set(CASES) and len(sessions) >= 8
    assert (sessions["errors"] == 0).all()
    # every tool call was right: the trajectory metric alone would pass every session
    assert sessions["trajectory_passed"].all()

    adk = _adk_verdicts(tmp_path, evalset, read_records(run_dir, "turns"))
    assert set(adk) == set(sessions["session_id"])
    for row in sessions.itertuples():
        assert adk[row.session_id] in ("PASSED", "FAILED"), adk[row.session_id]
        assert bool(row.case_passed) == (adk[row.session_id] == "PASSED"), row.case_id
    # the truth from the script: only London answers with the reference words in every turn;
    # Madrid's case has no reference answer, which ADK's ROUGE scores 0
    passed = set(sessions.loc[sessions["case_passed"].astype(bool), "case_id"])
    assert passed == {"weather_london"}

    summary = pd.read_parquet(run_dir / "summary.parquet").iloc[0]
    adk_rate = sum(v == "PASSED" for v in adk.values()) / len(adk)
    assert summary["task_success_rate"] == adk_rate == 0.25
    assert set(summary["case_pass_metrics"].split(",")) == set(CRITERIA)
    assert pd.isna(summary["case_metrics_not_evaluated"])
    cases = pd.read_parquet(run_dir / "cases.parquet").set_index("case_id")
    assert cases.loc["weather_london", "pass_rate"] == 1.0
    assert (cases.drop(index="weather_london")["passes"] == 0).all()
