"""Run folders with known differences, written once per test module by the real writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.report.runs_factory import write_run


@pytest.fixture(scope="package")
def known_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("results")
    return {
        "base": write_run(root, "base", seed=0),
        # the same system measured again: every change is noise
        "again": write_run(root, "again", seed=1, started_at="2026-09-22T10:00:00+00:00"),
        # twice the TTFT, 1.5x the turn latency, twice the sessions in the same time, worse tools
        "slow": write_run(root, "slow", seed=2, ttft_ms=80.0, turn_ms=450.0, sessions=400,
                          accuracy=0.3, errors_every=5, users=8, model="other",
                          started_at="2026-09-23T10:00:00+00:00"),
    }  # fmt: skip
