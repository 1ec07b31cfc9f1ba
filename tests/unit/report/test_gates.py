"""`bench compare --fail-on`: exit 1 when a change beyond noise crosses a gate, 0 otherwise, 2 on
bad gate syntax; the failing gate is named; markdown for a CI job summary, JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli.app import main
from bench.report.compare import CompareOptions, compare_runs
from bench.report.gates import check_gates, parse_gates
from bench.report.runs import find_runs
from bench.schemas.errors import BenchError
from tests.unit.report.runs_factory import write_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gates")
    return {
        "base": write_run(root, "base", sessions=120, seed=0),
        "same": write_run(root, "same", sessions=120, seed=1),  # the same system again
        # turns 1.5x slower (+50%), tool accuracy 0.8 -> 0.5
        "worse": write_run(root, "worse", sessions=120, seed=2, turn_ms=450.0, accuracy=0.5),
        "few": write_run(root, "few", sessions=3, seed=3, turn_ms=900.0),
        "hung": write_run(root, "hung", sessions=120, seed=4, stalled=1),
    }


def _bench(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main([*args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_gate_syntax() -> None:
    gates = parse_gates("task_success_rate<-0.02, turn_p90_ms > +10%")
    assert [(g.metric, g.op, g.threshold, g.relative) for g in gates] == [
        ("task_success_rate", "<", -0.02, False),
        ("turn_p90_ms", ">", 10.0, True),
    ]
    for bad, message in (("turn_p90_ms>>10%", "is not METRIC<CHANGE"), ("", "is not METRIC"),
                         ("turn_p90_ms=10%", "is not METRIC"), ("bogus<1", "unknown metric 'bogus'"),
                         ("server_ttft_p50_ms>5%", "gate on the client's ttft_p50_ms")):  # fmt: skip
        with pytest.raises(BenchError, match=message):
            parse_gates(bad)


def _check(runs: dict[str, Path], names: list[str], gates: str):
    found = find_runs([runs[n] for n in names])
    metrics = [g.metric for g in parse_gates(gates)]
    return check_gates(compare_runs(found, CompareOptions(metrics=metrics)), parse_gates(gates))


def test_a_change_beyond_noise_that_crosses_fails(runs: dict[str, Path]) -> None:
    report = _check(runs, ["base", "worse"], "turn_p50_ms>+10%,tool_accuracy<-0.1")
    assert report.failed and [r.verdict for r in report.results] == ["fail", "fail"]
    assert "FAILED turn_p50_ms>+10%: worse" in report.lines()[1]
    loose = _check(runs, ["base", "worse"], "turn_p50_ms>+200%,tool_accuracy<-0.9")
    assert not loose.failed and [r.reason for r in loose.results] == ["threshold not crossed"] * 2


def test_a_crossing_within_noise_passes(runs: dict[str, Path]) -> None:
    """A gate tighter than the noise: the same system crosses +-0.1% by chance."""
    report = _check(runs, ["base", "same"], "turn_p50_ms>+0.1%,turn_p50_ms<-0.1%")
    crossed = [r for r in report.results if r.reason != "threshold not crossed"]
    assert crossed and all(r.reason == "crossed, within noise" for r in crossed)
    assert not report.failed


def test_a_crossing_that_cannot_be_told_from_noise_fails(runs: dict[str, Path]) -> None:
    report = _check(runs, ["base", "few"], "turn_p50_ms>+10%")
    (result,) = report.results
    assert result.verdict == "undecided" and "too few sessions" in result.reason and report.failed


def test_a_run_whose_requests_hung_fails_every_gate(runs: dict[str, Path]) -> None:
    report = _check(runs, ["base", "hung"], "turn_p50_ms>+1000%")
    assert [r.verdict for r in report.results] == ["pass"] and report.failed
    assert report.unclean and "hung did not finish cleanly" in report.unclean[0]


def test_cli_exit_codes_and_formats(runs, capsys, tmp_path: Path) -> None:
    base, worse = str(runs["base"]), str(runs["worse"])
    summary = tmp_path / "summary.md"
    code, out, err = _bench(capsys, "compare", base, worse, "--baseline", "base",
                            "--fail-on", "turn_p90_ms>+10%", "-f", "markdown", "-o", str(summary))  # fmt: skip
    assert code == 1, err
    text = summary.read_text()
    assert text.startswith("### Regression gates: FAILED")
    assert "| turn_p90_ms>+10% | worse |" in text and "| fail | crossed, beyond noise |" in text
    assert "FAILED turn_p90_ms>+10%: worse" in err  # the CI log says which gate failed
    code, out, _ = _bench(
        capsys, "compare", base, worse, "--fail-on", "turn_p90_ms>+500%", "-f", "json"
    )
    data = json.loads(out)
    assert code == 0 and data["gates"]["failed"] is False
    assert data["gates"]["checks"][0]["verdict"] == "pass"
    assert data["runs"][1]["metrics"]["turn_p90_ms"]["noise"] is False
    code, out, _ = _bench(capsys, "compare", base, worse, "--fail-on", "turn_p90_ms>+10%")
    assert code == 1 and "gates: FAILED (1 of 1 checks)" in out
    code, out, err = _bench(capsys, "compare", base, worse, "--fail-on", "turn_p90_ms>>10%")
    assert code == 2 and out == "" and err.count("\n") == 1 and "--fail-on" in err
