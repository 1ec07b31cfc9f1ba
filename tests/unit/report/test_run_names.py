"""Runs in legends and headers are named by what differs between them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report.plots import latency_cdfs, latency_vs_throughput
from bench.report.run_names import run_names
from bench.report.runs import Run
from tests.unit.report.runs_factory import write_run

EAGER = {"engine_flags": {"enforce_eager": True}}


@pytest.fixture(scope="module")
def users_1_and_4(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    """The same model and engine flags at 1 and at 4 users (the issue's report)."""
    root = tmp_path_factory.mktemp("load")
    return [Run(write_run(root, f"u{n}", users=n, sessions=40, provenance=EAGER, seed=n))
            for n in (1, 4)]  # fmt: skip


def test_two_loads_are_two_legend_entries(users_1_and_4: list[Run]) -> None:
    names = run_names(users_1_and_4)
    assert names == {"u1": "users=1", "u4": "users=4"}
    plot = latency_vs_throughput(users_1_and_4, names)
    assert plot is not None
    assert plot.series == ("users=1", "users=4", "Pareto front")
    assert latency_cdfs(users_1_and_4, names).series == ("users=1", "users=4")


def test_names_list_every_difference_and_keep_repeats_apart(known_runs: dict[str, Path]) -> None:
    runs = [Run(known_runs[name]) for name in ("base", "again", "slow")]
    assert run_names(runs) == {
        "base": "users=4, max_num_seqs=8, model=tiny (base)",  # a repeat of "again"
        "again": "users=4, max_num_seqs=8, model=tiny (again)",
        "slow": "users=8, max_num_seqs=16, model=other",
    }
    assert run_names(runs[:2]) == {"base": "base", "again": "again"}  # nothing differs
    assert run_names(runs[:1]) == {"base": "base"}
