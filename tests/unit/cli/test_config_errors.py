"""Bad flags and config files: one line on stderr naming the flag, exit code 2, nothing started.

In process (`bench.cli.app.main`, the console script's entry point), so each case costs
milliseconds; tests/integration/test_cli_errors.py keeps the cases that need a real process (a
port in use, a missing vLLM environment, a server to attach to) and one config error through the
real console script.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.app import main

pytestmark = pytest.mark.bad_input


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--users", "0"], "--users"),
        (["--users", "-3"], "--users"),
        (["--users", "4,0"], "--users"),
        (["--duration", "soon"], "--duration"),
        (["--duration", "10s", "--sessions", "3"], "--duration"),
        (["--think-time", "later"], "--think-time"),
        (["--request-timeout", "0s"], "--request-timeout"),
        (["--max-tokens", "0"], "--max-tokens"),
        (["--thinking", "maybe"], "--thinking"),
        (["--arrival", "bursty"], "--arrival"),
        (["--max-sessions-in-flight", "4"], "--max-sessions-in-flight"),
        (["--judge-model", "j"], "--judge-model"),
        (["--user-simulator-endpoint", "ftp://x"], "--user-simulator-endpoint"),
        (["--evalset", "no/such/evalset.json"], "--evalset"),
        (["--evalset", "weather_time:no_such_case"], "no_such_case"),
        (["--engine-arg", "=1"], "--engine-arg"),
        (["--gpus", "a,b"], "--gpus"),
        (["--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization"),
        (["--endpoint", "http://127.0.0.1:9/v1", "--max-num-seqs", "8"], "engine flags"),
        (["--slo", "ttft=5"], "--slo"),
        (["--slo", "ttft_ms=fast"], "--slo"),
        (["--agent", "/no/such/agent"], "--agent"),
        (["--config", "/no/such/run.toml"], "--config"),
        (["--web", "--web-host", "0.0.0.0"], "--web-host"),
    ],
)
def test_run_rejects_bad_input(capsys, args: list[str], needle: str) -> None:
    assert needle in one_line_error(capsys, "run", *args)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--users", "1,2", "--session-rate", "1,2"], "--users and --session-rate"),
        (["--resume"], "--resume"),
        (["--find-max-load", "--slo", "turn_ms=500", "--trials", "2"], "--trials"),
        (["--slo", "turn_ms=500"], "--slo / --min-tool-accuracy"),
        (["--find-max-load"], "--find-max-load"),
        (["--find-max-load", "--slo", "turn_ms=500", "--slo-percentile", "95"], "--slo-percentile"),
        (["--users", "a,b"], "--users"),
        (["--step-duration", "never"], "--step-duration"),
        (["--min-tool-accuracy", "2", "--find-max-load"], "--min-tool-accuracy"),
        (["--endpoint", "http://127.0.0.1:9", "--engine-arg", "max-num-seqs=8,16"], "--endpoint"),
    ],
)
def test_sweep_rejects_bad_input(capsys, args: list[str], needle: str) -> None:
    assert needle in one_line_error(capsys, "sweep", "--dry-run", *args)


def test_config_file_errors_name_the_file_and_key(capsys, tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('users = 2\ncolour = "red"\n')
    line = one_line_error(capsys, "run", "--config", str(cfg))
    assert str(cfg) in line and "colour" in line
    cfg.write_text("drain = -1\n")
    assert "--drain" in one_line_error(capsys, "run", "--config", str(cfg))


def test_invalid_evalset_json(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.evalset.json"
    bad.write_text("{not json")
    line = one_line_error(capsys, "run", "--evalset", str(bad))
    assert str(bad) in line and "invalid JSON" in line
