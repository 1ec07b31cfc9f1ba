"""Regression gates for CI: `bench compare ... --fail-on 'task_success_rate<-0.02,turn_p90_ms>+10%'`.

A gate is `METRIC<CHANGE` or `METRIC>CHANGE`. CHANGE is in the metric's own units
(`task_success_rate<-0.02`: a drop of more than 0.02) or, with `%`, relative to the baseline
(`turn_p90_ms>+10%`: more than 10% slower). Each run other than the baseline is checked against
it; a gate fails when the change crosses the threshold **and** is beyond noise (`≈` absent, see
`bench.report.compare`). A crossing whose noise cannot be told (fewer than 5 sessions in a run,
accuracy across eval sets, no value) fails too, saying why: a gate that quietly checks nothing
protects nothing. So does any compared run that did not finish cleanly
(`bench.report.unfinished`): hung requests are a regression whatever the figures say.
Against a baseline of 0 a relative change is 0 (still 0) or infinite.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from bench.report.compare import Comparison, is_number
from bench.report.metrics import METRICS
from bench.schemas.errors import BenchError

EXAMPLE = "task_success_rate<-0.02,turn_p90_ms>+10%"
GATE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*([<>])\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*(%?)\s*$")


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str  # "<" or ">"
    threshold: float
    relative: bool
    text: str

    def crossed(self, change: float) -> bool:
        return change < self.threshold if self.op == "<" else change > self.threshold


def parse_gates(text: str) -> list[Gate]:
    """`--fail-on`'s gates; a one-line BenchError (exit 2) on anything else."""
    gates = []
    for item in text.split(","):
        match = GATE.match(item)
        if not match:
            raise BenchError(
                f"--fail-on: '{item.strip()}' is not METRIC<CHANGE or METRIC>CHANGE "
                f"(e.g. {EXAMPLE})"
            )
        name, op, number, pct = match.groups()
        metric = METRICS.get(name)
        if metric is None:
            raise BenchError(f"--fail-on: unknown metric '{name}' (known: {', '.join(METRICS)})")
        if metric.kind == "server":
            client = name.removeprefix("server_")
            raise BenchError(
                f"--fail-on: {name} comes from the server's histogram buckets, with no records "
                f"to tell noise from change; gate on the client's {client} instead"
            )
        gates.append(Gate(name, op, float(number), bool(pct), f"{name}{op}{number}{pct}"))
    return gates


@dataclass(frozen=True)
class GateResult:
    gate: str
    run_id: str
    verdict: str  # "pass", "fail", or "undecided" (which fails too)
    value: float | None
    baseline: float | None
    change: str
    reason: str

    @property
    def failed(self) -> bool:
        return self.verdict != "pass"

    def line(self) -> str:
        head = {"pass": "ok", "fail": "FAILED", "undecided": "FAILED (undecided)"}[self.verdict]
        return f"{head} {self.gate}: {self.run_id} {self.change} ({self.reason})"


@dataclass
class GateReport:
    results: list[GateResult]
    unclean: list[str]  # the warnings of runs that did not finish cleanly

    @property
    def failed(self) -> bool:
        return bool(self.unclean) or any(r.failed for r in self.results)

    def lines(self) -> list[str]:
        failed = sum(r.failed for r in self.results)
        head = (
            f"gates: FAILED ({failed} of {len(self.results)} checks"
            + (f", {len(self.unclean)} unclean run(s)" if self.unclean else "")
            + ")"
            if self.failed
            else f"gates: passed ({len(self.results)} checks)"
        )
        return [head, *[r.line() for r in self.results], *self.unclean]

    def markdown(self) -> str:
        verdict = "FAILED" if self.failed else "passed"
        rows = [
            f"| {r.gate} | {r.run_id} | {r.change} | {r.verdict} | {r.reason} |"
            for r in self.results
        ]
        out = [
            f"### Regression gates: {verdict}",
            "",
            "| gate | run | change | verdict | why |",
            "| --- | --- | --- | --- | --- |",
            *rows,
        ]
        out += [f"\n**{u}**" for u in self.unclean]
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "failed": self.failed,
            "checks": [r.__dict__ | {"failed": r.failed} for r in self.results],
            "unclean": self.unclean,
        }


def _change(gate: Gate, value: float, base: float) -> float:
    if not gate.relative:
        return value - base
    if base == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - base) / abs(base) * 100


def _check(gate: Gate, row: dict[str, Any], base_value: Any) -> GateResult:
    value = row.get(gate.metric)
    why = row.get(f"{gate.metric}_why")
    run_id = str(row["run_id"])
    if not is_number(value) or not is_number(base_value):
        reason = why or "no value in one of the runs"
        return GateResult(gate.text, run_id, "undecided", None, None, "-", reason)
    change = _change(gate, float(value), float(base_value))
    shown = f"{value:.4g} vs {base_value:.4g}, " + (
        f"{change:+.1f}%" if gate.relative else f"{change:+.4g}"
    )
    if not gate.crossed(change):
        return GateResult(
            gate.text, run_id, "pass", value, base_value, shown, "threshold not crossed"
        )
    noise = row.get(f"{gate.metric}_noise")
    if noise is True:
        return GateResult(
            gate.text, run_id, "pass", value, base_value, shown, "crossed, within noise"
        )
    if noise is None:
        reason = f"crossed, and noise cannot be told: {why or 'no noise test'}"
        return GateResult(gate.text, run_id, "undecided", value, base_value, shown, reason)
    return GateResult(gate.text, run_id, "fail", value, base_value, shown, "crossed, beyond noise")


def check_gates(comparison: Comparison, gates: list[Gate]) -> GateReport:
    """Every gate against every run but the baseline; the unclean runs among all of them."""
    rows = comparison.frame.to_dict("records")
    base = next(r for r in rows if r["baseline"])
    results = [
        _check(gate, row, base.get(gate.metric))
        for row in rows
        if not row["baseline"]
        for gate in gates
    ]
    unclean = [f.warning() for f in comparison.unfinished.values() if not f.clean]
    return GateReport(results, unclean)
