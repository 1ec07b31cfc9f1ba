"""Raw JSONL records: one file per table and writer (`raw/<table>.<writer>.jsonl`, see RunDir).

Each record is one line, flushed when it completes, so a crash loses at most the line being
written; the reader skips a truncated or garbled line and counts it instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.schemas.run_dir import RunDir

Record = dict[str, Any]

# Raw tables (the <table> part of the file name) and who writes them.
LLM_CALLS, TURNS, SESSIONS = "llm_calls", "turns", "sessions"  # each load process (its pid)
CLIENT = "client"  # each load process: its own CPU and loop lag
ARRIVALS = "arrivals"  # each load process, open loop: every arrival, started or not
LOAD_STOPS = "load_stops"  # each load process: when it saw the load stop (the window's end)
# each load process: every LLM call's request messages, and each distinct tool list once
# (bench.agent.prompt_capture); read by `bench export-trace`, not built into Parquet
PROMPTS, TOOLS = "prompts", "tools"
SERVER_METRICS = "server_metrics"  # the orchestrator's /metrics scraper ("scrape")
JUDGE = "judge"  # the judge after the load ("main")
LOAD_KINDS = (LLM_CALLS, TURNS, SESSIONS, CLIENT, ARRIVALS, LOAD_STOPS, PROMPTS, TOOLS)


@dataclass
class RawRead:
    records: list[Record] = field(default_factory=list)
    bad_lines: int = 0


def dump_line(record: object) -> str:
    """One record as one JSON line (compact; values JSON cannot hold become strings)."""
    return json.dumps(record, separators=(",", ":"), default=str) + "\n"


def read_jsonl(paths: list[Path]) -> RawRead:
    out = RawRead()
    for path in paths:
        with path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    out.bad_lines += 1  # the line a crash cut short
                    continue
                if isinstance(record, dict):
                    out.records.append(record)
                else:
                    out.bad_lines += 1
    return out


def read_raw(run_dir: RunDir | Path | str, table: str) -> RawRead:
    return read_jsonl(as_run_dir(run_dir).raw_files(table))


def read_records(run_dir: RunDir | Path | str, table: str) -> list[Record]:
    """Every complete record of a table, across writers (a torn line is skipped)."""
    return read_raw(run_dir, table).records


def as_run_dir(run_dir: RunDir | Path | str) -> RunDir:
    return run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
