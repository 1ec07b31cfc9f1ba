"""The SLA search's logic, pure: a probe's verdict against the SLOs, and the next load to probe.

A probe is one load step. Its verdict compares the step's summary at one percentile (p90 by
default, or p99) with each SLO (`turn_ms` -> `turn_p90_ms`, `ttft_ms` -> `ttft_p90_ms`, ...),
its tool accuracy (ADK's EXACT trajectory score by default) with `--min-tool-accuracy`, and its
turn error rate with `--max-error-rate`. A probe with no measured turn fails. Sessions
still running at the end of the probe's drain are incomplete, not errors; a percentile that
incomplete work reaches is only a lower bound ("≥ X ms"): the probe fails that SLO when the bound
is past it, and cannot pass it otherwise (no number to compare).

`MaxLoadSearch` assumes a passing load's lower loads pass too: it ramps up from the lowest load,
doubling, until a probe fails or the highest load passes, then bisects between the best pass
and the lowest failure (to 1 user, or to `rate_tolerance` of the rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.schemas.errors import BenchError
from bench.schemas.run_dir import RunDir

ACCURACY_METRICS = ("tool_trajectory_exact", "tool_trajectory_in_order",
                    "tool_trajectory_any_order", "tool_accuracy", "task_success_rate",
                    "tool_name_recall")  # fmt: skip
SLO_COLUMN = {"ttft_ms": "ttft", "ttft_text_ms": "ttft_text", "ttft_tool_ms": "ttft_tool",
              "tpot_ms": "tpot", "turn_ms": "turn", "session_ms": "session"}  # fmt: skip


@dataclass(frozen=True)
class SloCheck:
    slo: dict[str, float]
    percentile: Literal[90, 99] = 90
    min_tool_accuracy: float | None = None
    accuracy_metric: str = "tool_trajectory_exact"
    max_error_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.percentile not in (90, 99):
            raise BenchError("--slo-percentile: 90 or 99")
        if self.accuracy_metric not in ACCURACY_METRICS:
            raise BenchError(f"--accuracy-metric: one of {', '.join(ACCURACY_METRICS)}")
        if not self.slo and self.min_tool_accuracy is None:
            raise BenchError("--find-max-load: give --slo and/or --min-tool-accuracy")

    def column(self, key: str) -> str:
        return f"{SLO_COLUMN[key]}_p{self.percentile}_ms"

    def verdict(self, summary: dict[str, Any]) -> tuple[bool, list[str]]:
        """(passed, one reason per check, e.g. 'turn_p90_ms 480 <= 500')."""
        reasons: list[str] = []
        passed = True
        if not (summary.get("turns") or 0) - (summary.get("turns_incomplete") or 0):
            return False, ["no measured turn"]
        for key, limit in sorted(self.slo.items()):
            col = self.column(key)
            value = summary.get(col)
            ok = value is not None and value <= limit
            shown = "-" if value is None else f"{value:.0f}"
            if value is None and summary.get(f"{col}_bound"):  # reached by incomplete work
                shown = str(summary[f"{col}_bound"]).removesuffix(" ms")
            reasons.append(f"{col} {shown} {'<=' if ok else '>'} {limit:g}")
            passed &= ok
        if self.min_tool_accuracy is not None:
            value = summary.get(self.accuracy_metric)
            ok = value is not None and value >= self.min_tool_accuracy
            shown = "-" if value is None else f"{value:.3f}"
            reasons.append(f"{self.accuracy_metric} {shown} {'>=' if ok else '<'} "
                           f"{self.min_tool_accuracy:g}")  # fmt: skip
            passed &= ok
        error_rate = summary.get("error_rate") or 0.0
        ok = error_rate <= self.max_error_rate
        if not ok or self.max_error_rate > 0:
            reasons.append(f"error_rate {error_rate:.3f} {'<=' if ok else '>'} "
                           f"{self.max_error_rate:g}")  # fmt: skip
        passed &= ok
        return passed, reasons

    def as_dict(self) -> dict[str, Any]:
        return {"slo": dict(sorted(self.slo.items())), "percentile": self.percentile,
                "min_tool_accuracy": self.min_tool_accuracy,
                "accuracy_metric": self.accuracy_metric, "max_error_rate": self.max_error_rate}  # fmt: skip


@dataclass
class Probe:
    load: float
    phase: str  # ramp | bisect
    passed: bool
    replayed: bool = False  # taken from a finished folder of an earlier (interrupted) attempt


@dataclass
class MaxLoadSearch:
    """Ramp (x2) then bisect over [low, high]; integers for users, `rate_tolerance` for rates."""

    low: float
    high: float
    integer: bool = True
    rate_tolerance: float = 0.1
    probes: list[Probe] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high:
            raise BenchError("--find-max-load: the load range needs 0 < lowest <= highest")

    @property
    def best_pass(self) -> float | None:
        passes = [p.load for p in self.probes if p.passed]
        return max(passes) if passes else None

    @property
    def lowest_fail(self) -> float | None:
        fails = [p.load for p in self.probes if not p.passed]
        return min(fails) if fails else None

    def phase(self) -> str:
        return "ramp" if self.lowest_fail is None else "bisect"

    def next_load(self) -> float | None:
        """The next load to probe, or None when the answer is known."""
        if not self.probes:
            return self.low
        best, fail = self.best_pass, self.lowest_fail
        if best is None:  # the lowest load fails: nothing meets the SLOs
            return None
        if fail is None:
            if best >= self.high:
                return None
            grown = best * 2 if self.integer else best * 2.0
            return min(self.high, max(grown, best + 1) if self.integer else grown)
        if self.integer:
            if fail - best <= 1:
                return None
            return float(math.floor((best + fail) / 2))
        if (fail - best) <= self.rate_tolerance * best:
            return None
        return (best + fail) / 2

    def record(self, load: float, passed: bool, *, replayed: bool = False) -> None:
        self.probes.append(Probe(load, self.phase(), passed, replayed))

    def outcome(self) -> str:
        best, fail = self.best_pass, self.lowest_fail
        if best is None:
            return f"even the lowest load ({self.low:g}) misses the SLOs"
        if fail is None:
            return f"the highest load probed ({best:g}) meets the SLOs; the limit may be higher"
        return f"max {best:g} (fails at {fail:g})"


def load_key(load: float) -> str:
    return f"{load:.6g}"


def replay(search: MaxLoadSearch, cached: dict[str, bool]) -> None:
    """Advance the search through probes already measured (a resumed sweep)."""
    while (load := search.next_load()) is not None and load_key(load) in cached:
        search.record(load, cached[load_key(load)], replayed=True)


def probe_row(
    index: int, probe: Probe, check: SloCheck, summary: dict[str, Any], reasons: list[str],
    step_dir: RunDir | None,
) -> dict[str, Any]:  # fmt: skip
    keep = ["users", "session_rate", "sessions", "turns", "sessions_per_s", "turns_per_s",
            "failed_turns_per_s", "sessions_incomplete", "error_rate", "client_saturated",
            check.accuracy_metric]  # fmt: skip
    keep += [check.column(k) for k in SLO_COLUMN]
    return {
        "probe": index,
        "phase": probe.phase,
        "load": probe.load,
        "passed": probe.passed,
        "replayed": probe.replayed,
        "reasons": "; ".join(reasons),
        "percentile": check.percentile,
        **{k: summary.get(k) for k in keep},
        "point_dir": str(step_dir) if step_dir else None,
    }
