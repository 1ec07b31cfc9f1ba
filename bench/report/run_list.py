"""`bench results list`: one line per run, read from its manifest and summary.

A run folder is a folder with `manifest.json`; a results folder holds run folders, and a sweep's
folder holds one run per engine-flag combination (listed as `sweep/combination`). A run that
failed before writing its summary is still listed, with its status and no figures. A run with
load steps is one line: its loads, and the figures of its last (highest) step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from bench.report.runs import Run, is_run_dir, parse_since
from bench.report.unfinished import unfinished
from bench.schemas.errors import BenchError
from bench.schemas.run_dir import RunDir

FIGURES = {  # summary column -> heading, format
    "sessions_per_s": ("sessions/s", "{:.2f}"),
    "turn_p50_ms": ("turn p50 ms", "{:.1f}"),
    "task_success_rate": ("task success", "{:.3f}"),
    "tool_accuracy": ("tool accuracy", "{:.3f}"),
    "error_rate": ("error rate", "{:.3f}"),
}


def run_folders(root: Path) -> list[Path]:
    """The run folders in `root` (itself, its children, a sweep's combinations), sorted."""
    if not root.is_dir():
        raise BenchError(f"RESULTS: {root} is not a folder")
    if RunDir(root).is_run():
        return [root]
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if RunDir(child).is_run():
            found.append(child)
        else:  # a sweep: its combination runs
            found += sorted(p for p in child.iterdir() if p.is_dir() and RunDir(p).is_run())
    return found


def _load(rows: list[dict[str, Any]]) -> str:
    rates = [r.get("session_rate") for r in rows if r.get("session_rate") is not None]
    if rates:
        text = ",".join(f"{r:g}" for r in rates) + " sessions/s"
    else:
        users = [str(r.get("users")) for r in rows if r.get("users") is not None]
        text = "users " + ",".join(users) if users else "-"
    return text + (f" ({len(rows)} steps)" if len(rows) > 1 else "")


def _entry(path: Path, root: Path) -> dict[str, Any]:
    run = Run(path)
    manifest = run.manifest
    info = manifest.summary_info if manifest else None
    rows = pq.read_table(run.dir.summary).to_pylist() if is_run_dir(path) else []
    last = rows[-1] if rows else {}
    status = manifest.status.value if manifest else "unknown"
    if rows and len(rows) == 1 and not unfinished(run).clean and status == "completed":
        status = "completed, unclean"
    started = (
        datetime.fromisoformat(manifest.started_at) if manifest and manifest.started_at else None
    )
    entry: dict[str, Any] = {
        "run": path.relative_to(root).as_posix() if path != root else path.name,
        "started": started,
        "status": status,
        "model": (info.model if info else None) or last.get("model") or "-",
        "eval set": (info.eval_set_id if info else None) or last.get("eval_set_id") or "-",
        "load": _load(rows) if rows else _load([info.model_dump()] if info else []),
        "sessions": last.get("sessions"),
    }
    for column, (heading, _) in FIGURES.items():
        entry[heading] = last.get(column)
    return entry


def list_runs(
    roots: list[Path],
    model: str | None = None,
    evalset: str | None = None,
    since: str | None = None,
) -> pd.DataFrame:
    """One row per run, oldest first; filtered by model, eval set id and start date."""
    since_at = parse_since(since)
    entries = []
    for root in roots:
        for path in run_folders(root):
            entry = _entry(path, root)
            manifest = Run(path).manifest
            names = {entry["model"], manifest.summary_info.served_model_name if manifest else None}
            if model and model not in names:
                continue
            if evalset and evalset != entry["eval set"]:
                continue
            if since_at and (entry["started"] is None or entry["started"] < since_at):
                continue
            entries.append(entry)
    entries.sort(key=lambda e: e["started"] or datetime.min.replace(tzinfo=UTC))
    return pd.DataFrame(entries)


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """Strings for people: UTC minutes, figures with their precision, "-" for none."""
    out = frame.copy()
    out["started"] = [
        s.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if isinstance(s, datetime) else "-"
        for s in frame["started"]
    ]
    out["sessions"] = ["-" if pd.isna(v) else str(int(v)) for v in frame["sessions"]]
    for heading, fmt in FIGURES.values():
        out[heading] = ["-" if pd.isna(v) else fmt.format(v) for v in frame[heading]]
    return out


def to_text(frame: pd.DataFrame) -> str:
    """Aligned lines: names to the left, figures to the right."""
    shown = display(frame)
    right = {"sessions", *(heading for heading, _ in FIGURES.values())}
    widths = {c: max(len(c), *(len(str(v)) for v in shown[c])) for c in shown.columns}

    def line(cells: dict[str, str]) -> str:
        return "  ".join(
            str(v).rjust(widths[c]) if c in right else str(v).ljust(widths[c])
            for c, v in cells.items()
        ).rstrip()

    rows = [line({c: c for c in shown.columns})]
    rows += [
        line(dict(zip(shown.columns, rec, strict=True))) for rec in shown.itertuples(index=False)
    ]
    return "\n".join(rows) + "\n"
