"""`bench compare --history METRIC`: one metric over the runs of one configuration, oldest first.

The configuration is what the user chose (`bench.report.comparability.configuration` without
the versions): a nightly run of one model, eval set, flags and load on one machine is one line
of history across bench and vLLM upgrades, each upgrade named where it happened. It follows the
configuration of `--baseline` when given, else of the newest run. Each run's change is against
the run before it, with the same noise test as `bench compare`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from bench.report.comparability import configuration
from bench.report.compare import is_number, resolve_metrics
from bench.report.compare_format import format_value
from bench.report.metrics import Metric, samples, sessions_with_result
from bench.report.noise import (
    NOISE_MARK,
    UNDECIDED_MARK,
    noise_verdict,
    undecided,
)
from bench.report.runs import Run
from bench.report.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES
from bench.report.unfinished import unfinished
from bench.schemas.errors import BenchError

BAR = 20


@dataclass
class History:
    metric: Metric
    followed: str  # the run whose configuration is followed
    frame: pd.DataFrame
    others: list[str] = field(default_factory=list)  # runs of other configurations

    def notes(self) -> list[str]:
        out = [
            f"{self.metric.name} over the {len(self.frame)} run(s) with the configuration of "
            f"{self.followed}; each change against the run before ({NOISE_MARK} within noise, "
            f"{UNDECIDED_MARK} too few sessions or records)"
        ]
        if self.others:
            out.append(
                f"{len(self.others)} run(s) of other configurations left out; --baseline RUN "
                "follows another run's configuration"
            )
        return out


def _when(run: Run) -> datetime:
    return run.started_at or datetime.min.replace(tzinfo=UTC)


def _version(run: Run) -> str:
    prov = run.provenance
    return f"vLLM {prov.get('vllm_version') or '?'}, bench {prov.get('bench_version') or '?'}" + (
        f" ({str(prov['git_sha'])[:10]})" if prov.get("git_sha") else ""
    )


def metric_history(
    runs: list[Run],
    metric_name: str,
    followed: Run | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> History:
    (metric,) = resolve_metrics([metric_name], "--history")
    if metric.kind == "server":
        raise BenchError(f"--history: {metric_name} has no records for a noise test; pick another")
    anchor = followed or max(runs, key=_when)
    key = configuration(anchor, versions=False)
    mine = sorted((r for r in runs if configuration(r, versions=False) == key), key=_when)
    rows: list[dict[str, Any]] = []
    previous: Run | None = None
    for run in mine:
        value = run.summary.get(metric.name)
        row: dict[str, Any] = {
            "run_id": run.run_id,
            "started_at": run.started_at,
            metric.name: float(value) if is_number(value) else None,
            "change_pct": None,
            "noise": None,
            "why": None,
            "versions": _version(run),
            "clean": unfinished(run).clean,
        }
        if previous is not None:
            before = previous.summary.get(metric.name)
            if is_number(value) and is_number(before) and before != 0:
                row["change_pct"] = (float(value) - float(before)) / abs(float(before)) * 100
            verdict = noise_verdict(
                metric, samples(previous, metric), samples(run, metric),
                sessions_with_result(previous), sessions_with_result(run),
                resamples, confidence, seed,
            )  # fmt: skip
            row["noise"], row["why"] = verdict.noise, verdict.why
        rows.append(row)
        previous = run
    followed_ids = {id(r) for r in mine}
    others = [r.run_id for r in runs if id(r) not in followed_ids]
    return History(metric, anchor.run_id, pd.DataFrame(rows), others)


def _change(row: dict[str, Any]) -> str:
    change = row.get("change_pct")
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return ""
    mark = (
        f" {NOISE_MARK}"
        if row.get("noise") is True
        else (f" {UNDECIDED_MARK}" if undecided(row.get("why")) else "")
    )
    return f"{change:+.1f}%{mark}"


def display_rows(history: History) -> list[dict[str, str]]:
    """Strings for people: when, run, value, change, a bar, and the versions where they change."""
    records = history.frame.to_dict("records")
    values = [r[history.metric.name] for r in records if r[history.metric.name] is not None]
    top = max((abs(v) for v in values), default=0.0)
    out = []
    last_versions = None
    for r in records:
        value = r[history.metric.name]
        when = r["started_at"]
        bar = "█" * round(BAR * abs(value) / top) if value is not None and top else ""
        out.append({
            "started (UTC)": when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else "-",
            "run": r["run_id"] + ("" if r["clean"] else " [unclean]"),
            history.metric.label: format_value(history.metric, value),
            "change": _change(r),
            "trend": bar,
            "versions": r["versions"] if r["versions"] != last_versions else "",
        })  # fmt: skip
        last_versions = r["versions"]
    return out


def to_markdown(history: History) -> str:
    rows = display_rows(history)
    if not rows:
        return ""
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(r[h] for h in headers) + " |" for r in rows]
    return "\n".join(lines) + "\n\n" + "\n".join(f"_{n}_" for n in history.notes()) + "\n"


def to_json(history: History) -> str:
    records = history.frame.astype(object).where(history.frame.notna(), None).to_dict("records")
    for r in records:
        r["started_at"] = r["started_at"].isoformat() if r["started_at"] else None
    data = {"metric": history.metric.name, "followed": history.followed, "runs": records,
            "other_configurations": history.others}  # fmt: skip
    return json.dumps(data, indent=2) + "\n"
