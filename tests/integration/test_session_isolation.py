"""Session isolation under concurrency (issue 17): 16 users share one ADK Runner per load process;
no turn may see another session's state or events."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from bench.load.process import LocustProcess
from bench.load.spec import LoadSpec
from bench.schemas.config import LoadConfig
from bench.schemas.raw import read_records
from tests.fixtures.scripted_fake import isolation_policy, scripted_fake_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _tool_responses(turn: dict) -> list[dict]:
    invocation = turn["actual_invocation"]
    data = json.loads(invocation) if isinstance(invocation, str) else invocation
    out = []
    for event in (data.get("intermediate_data") or {}).get("invocation_events") or []:
        for part in (event.get("content") or {}).get("parts") or []:
            if part.get("function_response"):
                out.append(part["function_response"]["response"])
    for response in (data.get("intermediate_data") or {}).get("tool_responses") or []:
        out.append(response.get("response"))
    return [r for r in out if isinstance(r, dict)]


@pytest.mark.fault
def test_sixteen_concurrent_sessions_never_see_each_other(tmp_path: Path) -> None:
    run_dir = tmp_path / "iso"
    with scripted_fake_server(isolation_policy, served_model_name="iso", latency_ms=20) as url:
        spec = LoadSpec(
            run_id=run_dir.name, run_dir=run_dir,
            evalset=str(FIXTURES / "evalsets" / "isolation" / "isolation.evalset.json"),
            agent_dir=FIXTURES / "agents" / "isolation", api_base=url + "/v1",
            served_model_name="iso", load=LoadConfig(request_timeout_s=60, sessions=48),
        )  # fmt: skip
        code = LocustProcess(spec, users=16, spawn_rate=16, duration_s=240).run(timeout_s=360)
    assert code == 0, (run_dir / "locust.log").read_text()[-3000:]
    sessions = [s for s in read_records(run_dir, "sessions") if not s["warmup"]]
    assert len(sessions) >= 48
    turns = [t for t in read_records(run_dir, "turns") if not t["warmup"]]
    assert all(t["error_type"] is None for t in turns), [t["error"] for t in turns if t["error"]][
        :3
    ]
    by_session: dict[str, list[dict]] = defaultdict(list)
    for turn in turns:
        by_session[turn["session_id"]].append(turn)
    marks = []
    for session_turns in by_session.values():
        write, read = sorted(session_turns, key=lambda t: t["invocation_index"])
        # The tool's own verdict (its session's state and events) ...
        assert read["final_response"] == "isolated", read["final_response"]
        # ... and, independently, the id written in turn 1 is the one read back in turn 2.
        written = [r["written"] for r in _tool_responses(write) if "written" in r]
        checked = [r["checked"] for r in _tool_responses(read) if "checked" in r]
        assert len(written) == 1 and written == checked
        marks.append(written[0])
    assert len(set(marks)) == len(marks)  # every session had its own id
