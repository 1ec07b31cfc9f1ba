"""RunDir: every path inside a run folder, named once.

    results/<run_id>/
      manifest.json  config.resolved.toml  server.log  locust.log  bench.log  load_spec.json
      tickets.json  workers.json  shipped.json          (load coordination)
      raw/<table>.<writer>.jsonl                        (one file per table and writer)
      <table>.parquet                                   (llm_calls, turns, sessions, ...)
      cases_by_step.parquet                             (load steps and sweeps only)
      trace-<format>.jsonl                              (bench export-trace)
      sweep.json  sweep_summary.parquet  sla_probes.parquet  sla_summary.parquet
      step-NN-<label>/                                  (a RunDir of its own per load step)

No other module spells a run-folder file name; they ask a RunDir.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunDir:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # Files describing the run.
    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"

    @property
    def config(self) -> Path:
        return self.path / "config.resolved.toml"

    @property
    def server_log(self) -> Path:
        return self.path / "server.log"

    @property
    def locust_log(self) -> Path:
        return self.path / "locust.log"

    @property
    def bench_log(self) -> Path:
        """The orchestrator's log: third-party messages and full traces (bench.runner.run_log)."""
        return self.path / "bench.log"

    @property
    def locust_csv_prefix(self) -> Path:
        """Locust's --csv prefix: it writes locust_stats.csv, locust_failures.csv, ..."""
        return self.path / "locust"

    # Load coordination between the orchestrator and the load processes.
    @property
    def load_spec(self) -> Path:
        return self.path / "load_spec.json"

    @property
    def tickets(self) -> Path:
        return self.path / "tickets.json"

    @property
    def workers(self) -> Path:
        return self.path / "workers.json"

    @property
    def shipped(self) -> Path:
        return self.path / "shipped.json"

    # Raw records: one JSONL file per table and writer (a load process pid, "main", a worker).
    @property
    def raw(self) -> Path:
        return self.path / "raw"

    def raw_file(self, table: str, writer: str | int) -> Path:
        return self.raw / f"{table}.{writer}.jsonl"

    def raw_files(self, table: str) -> list[Path]:
        return sorted(self.raw.glob(f"{table}.*.jsonl"))

    def any_raw(self) -> bool:
        return any(self.raw.glob("*.jsonl"))

    # Tables.
    def table(self, name: str) -> Path:
        return self.path / f"{name}.parquet"

    @property
    def summary(self) -> Path:
        return self.table("summary")

    @property
    def by_turn_index(self) -> Path:
        """Metrics per turn index of the cases (`bench.results.by_turn`)."""
        return self.table("by_turn_index")

    def trace(self, fmt: str) -> Path:
        """`bench export-trace` in one format (vllm-custom, mooncake, chat-jsonl)."""
        return self.path / f"trace-{fmt}.jsonl"

    @property
    def cases_by_step(self) -> Path:
        """Each case's pass rate per load step (`bench.results.under_load`): a run with load
        steps, and a sweep folder."""
        return self.table("cases_by_step")

    @property
    def report(self) -> Path:
        """`bench report` of this one run."""
        return self.path / "report.html"

    # Sweeps and SLA search.
    @property
    def sweep_plan(self) -> Path:
        return self.path / "sweep.json"

    @property
    def sweep_summary(self) -> Path:
        return self.table("sweep_summary")

    @property
    def sla_probes(self) -> Path:
        return self.table("sla_probes")

    @property
    def sla_summary(self) -> Path:
        return self.table("sla_summary")

    # Load steps: each a run folder of its own.
    def step(self, index: int, label: str) -> RunDir:
        return RunDir(self.path / f"step-{index:02d}-{label}")

    def steps(self) -> list[RunDir]:
        return [RunDir(p) for p in sorted(self.path.glob("step-*")) if p.is_dir()]

    def is_run(self) -> bool:
        return self.manifest.exists()

    def __str__(self) -> str:
        return str(self.path)
