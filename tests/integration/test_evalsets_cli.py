"""`bench evalsets validate | list | convert` as subprocesses: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.constants import REPO_ROOT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "300", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [sys.executable, "-m", "bench", "evalsets", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )


def _unboxed(text: str) -> str:
    """Table text with borders dropped and whitespace collapsed, so wrapped cells read whole."""
    return " ".join(text.translate({ord(c): " " for c in "│┃┏┓┗┛┡┩└┘┬┴┼━─╇┳┻╋┃"}).split())


def test_validate_shipped_sets_clean() -> None:
    result = bench("validate", "evalsets")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: 7 file(s)" in result.stdout and "no problems" in result.stdout
    assert "1 user-simulator case(s)" in result.stdout  # weather_time_scenario: runnable


def test_validate_planted_mistakes_table_and_exit_1() -> None:
    result = bench(
        "validate",
        str(FIXTURES / "evalsets" / "planted"),
        "--agent",
        str(FIXTURES / "agents" / "byo_concierge"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    out = _unboxed(result.stdout)
    for needle in (
        "unknown tool 'book_spa'",
        "tool_uses[0].args.booking",
        "expected string, got integer 42",
        "4 problem(s)",
    ):
        assert needle in out, out


def test_validate_bad_paths_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = bench("validate", str(tmp_path / "nope"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr
    assert "nope does not exist" in missing.stderr
    empty = tmp_path / "agentless"
    empty.mkdir()
    (empty / "x.evalset.json").write_text("{}")
    no_agent = bench("validate", str(empty), "--agent", str(tmp_path))
    assert no_agent.returncode == 2 and no_agent.stderr.count("\n") == 1, no_agent.stderr
    assert "no agent.py, __init__.py or root_agent.yaml" in no_agent.stderr


def test_list_shows_shipped_and_given() -> None:
    result = bench("list", str(FIXTURES / "evalsets" / "legacy" / "home.test.json"))
    assert result.returncode == 0, result.stderr
    for name in (
        "weather_time",
        "home_automation",
        "customer_support_orders",
        "unit_conversion",
        "travel_multi_agent",
        "research_notes",
        "home.test.json",
        "legacy",
    ):
        assert name in result.stdout, result.stdout


def test_convert_legacy_file(tmp_path: Path) -> None:
    out = tmp_path / "home.evalset.json"
    result = bench("convert", str(FIXTURES / "evalsets" / "legacy" / "home.test.json"), str(out))
    assert result.returncode == 0, result.stderr
    assert "(legacy)" in result.stdout and "1 case(s), 3 turn(s)" in result.stdout
    data = json.loads(out.read_text())
    assert data["eval_set_id"] == "home"
    assert [i["invocation_id"] for i in data["eval_cases"][0]["conversation"]] == [
        "home-1",
        "home-2",
        "home-3",
    ]
    again = bench("convert", str(FIXTURES / "evalsets" / "legacy" / "home.test.json"), str(out))
    assert again.returncode == 2 and "exists" in again.stderr
