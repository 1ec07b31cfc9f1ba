"""Finding and opening run folders for `bench compare` and `bench report`.

A run folder holds `manifest.json` and the Parquet tables. `find_runs` takes run folders, or
results roots (folders of run folders) filtered by model, eval set and start date, and refuses
to mix schema versions: the `bench` metadata key of every Parquet file carries `schema_version`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from bench.constants import SCHEMA_VERSION
from bench.results.writer import read_metadata
from bench.schemas.errors import BenchError
from bench.schemas.manifest import Manifest, read_manifest
from bench.schemas.records import AGENT_ROLE, USER_SIMULATOR_ROLE
from bench.schemas.run_dir import RunDir


@dataclass(eq=False)
class Run:
    """One run folder; tables are read on first use."""

    path: Path
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict, repr=False)
    # tables derived from the Parquet ones (measured rows, completed rows), each made once
    derived: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    @property
    def dir(self) -> RunDir:
        return RunDir(self.path)

    @cached_property
    def manifest(self) -> Manifest | None:
        """None when the folder has no readable manifest (the tables alone still compare)."""
        try:
            return read_manifest(self.dir)
        except BenchError:
            return None

    @cached_property
    def metadata(self) -> dict[str, Any]:
        return read_metadata(self.dir.summary)

    @property
    def schema_version(self) -> int | None:
        version = self.metadata.get("schema_version")
        return int(version) if version is not None else None

    @cached_property
    def summary(self) -> dict[str, Any]:
        table = pq.read_table(self.dir.summary)
        rows = table.to_pylist()
        if not rows:
            raise BenchError(f"{self.dir.summary}: no summary row")
        return rows[0]

    @property
    def run_id(self) -> str:
        from_manifest = self.manifest.run_id if self.manifest else None
        return str(self.summary.get("run_id") or from_manifest or self.path.name)

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self.manifest.provenance) if self.manifest else {}

    @property
    def started_at(self) -> datetime | None:
        text = self.manifest.started_at if self.manifest else None
        if text:
            return datetime.fromisoformat(text)
        start = self.summary.get("window_start")
        return start if isinstance(start, datetime) else None

    @property
    def config_text(self) -> str:
        path = self.dir.config
        return path.read_text() if path.exists() else ""

    def table(self, name: str) -> pd.DataFrame | None:
        """A Parquet table as a DataFrame, or None when the run has no such file."""
        if name not in self._tables:
            path = self.dir.table(name)
            df = pd.read_parquet(path) if path.exists() else None
            if name == "llm_calls" and df is not None and "call_role" in df.columns:
                # the user simulator's calls (scenario cases) are no agent calls: no report
                # figure, plot or comparison counts them
                df = df[df["call_role"].fillna(AGENT_ROLE) != USER_SIMULATOR_ROLE]
            self._tables[name] = df
        return self._tables[name]

    def measured(self, name: str) -> pd.DataFrame:
        """The table without warm-up rows (empty when absent)."""
        key = f"measured:{name}"
        if key not in self.derived:
            df = self.table(name)
            if df is None:
                df = pd.DataFrame()
            elif "warmup" in df.columns:
                df = df[~df["warmup"].fillna(False).astype(bool)]
            self.derived[key] = df
        return self.derived[key]

    def key(self, name: str) -> Any:
        """A value identifying the run: a summary column, an engine flag, a load option, or provenance."""
        if name in self.summary:
            return self.summary[name]
        prov = self.provenance
        for section in (prov.get("engine_flags") or {}, prov.get("load") or {}, prov):
            if name in section:
                value = section[name]
                return (
                    json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
                )
        return None


def is_run_dir(path: Path) -> bool:
    return RunDir(path).summary.is_file()


def expand_steps(path: Path) -> list[Run]:
    """A run with load steps is one row per step: its `step-NN-*` folders are runs of their own."""
    steps = [step.path for step in RunDir(path).steps() if is_run_dir(step.path)]
    return [Run(p) for p in steps] or [Run(path)]


def parse_since(since: str | None) -> datetime | None:
    if not since:
        return None
    try:
        parsed = datetime.fromisoformat(since)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(since), datetime.min.time())
        except ValueError:
            raise BenchError(f"--since: '{since}' is not a date like 2026-05-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def find_runs(
    paths: list[Path],
    model: str | None = None,
    evalset: str | None = None,
    since: str | None = None,
) -> list[Run]:
    """Run folders from the paths, in the order given (a results root: its runs by start time)."""
    since_at = parse_since(since)
    runs: list[Run] = []
    for path in paths:
        if not path.is_dir():
            raise BenchError(f"RUN: {path} is not a folder")
        if is_run_dir(path):
            candidates = expand_steps(path)
        else:
            folders = [p for p in sorted(path.iterdir()) if p.is_dir() and is_run_dir(p)]
            if not folders:
                raise BenchError(
                    f"RUN: {path} holds no run folder with {RunDir(path).summary.name}"
                )
            folders.sort(key=lambda p: Run(p).started_at or datetime.min.replace(tzinfo=UTC))
            candidates = [run for folder in folders for run in expand_steps(folder)]
        runs += [run for run in candidates if _matches(run, model, evalset, since_at)]
    seen: set[Path] = set()
    unique = []
    for run in runs:
        resolved = run.path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append(run)
    if not unique:
        raise BenchError("RUN: no run matches the filters")
    check_schema_versions(unique)
    return unique


def _matches(run: Run, model: str | None, evalset: str | None, since_at: datetime | None) -> bool:
    if model and model not in (run.summary.get("model"), run.summary.get("served_model_name")):
        return False
    if evalset and evalset != run.summary.get("eval_set_id"):
        return False
    started = run.started_at
    return not (since_at and (started is None or started < since_at))


def check_schema_versions(runs: list[Run]) -> int:
    """The one schema version of all runs; a one-line BenchError when they differ."""
    versions = {run.run_id: run.schema_version for run in runs}
    distinct = set(versions.values())
    if None in distinct:
        bad = next(r for r, v in versions.items() if v is None)
        raise BenchError(f"{bad}: its Parquet files carry no schema version (not written by bench)")
    if len(distinct) > 1:
        listed = ", ".join(f"{r} v{v}" for r, v in versions.items())
        raise BenchError(
            f"runs of different result schema versions cannot be compared ({listed}); "
            "rebuild the old ones with `bench results rebuild RUN`"
        )
    version = distinct.pop()
    if version is not None and version > SCHEMA_VERSION:
        raise BenchError(
            f"runs use result schema v{version}, newer than this bench (v{SCHEMA_VERSION}): upgrade bench"
        )
    return int(version) if version is not None else SCHEMA_VERSION
