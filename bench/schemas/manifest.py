"""manifest.json: what a run was (provenance, criteria, load) and how it ended (status).

One pydantic model owns every key. Writers use `Manifest` and `update_manifest`; readers get
attributes, never `.get("...")` on a dict. Unknown keys in an older file are kept (extra="allow")
so `bench results rebuild` still reads it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.schemas.errors import BenchError
from bench.schemas.redact import redact_urls
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus


class SkippedCase(BaseModel):
    case_id: str
    reason: str


class SummaryInfo(BaseModel):
    """The load that a run (or step) applied, copied into its summary row."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    served_model_name: str | None = None
    eval_set_id: str | None = None
    users: int | None = None
    session_rate: float | None = None
    max_sessions_in_flight: int | None = None  # open loop: the cap per load process
    processes: int | None = None
    stream: bool | None = None
    tool_choice: str = "auto"  # "required_when_expected" under --force-tools
    reasoning_parser: str | None = None  # the server's --reasoning-parser, when bench set it
    thinking: str | None = None  # --thinking on/off; None: not sent (the model's default)
    thinking_budget: int | None = None  # --thinking-budget
    request_timeout_s: float | None = None
    drain_s: float | None = None
    trials: int = 1


class LostWorker(BaseModel):
    """A Locust worker of a master run that died mid-run (bench.load.worker_watch)."""

    worker: str  # Locust's node id
    lost_at: str  # UTC, when the master marked it missing (no heartbeat)
    last_heartbeat_at: str | None = None
    silent_s: float | None = None  # from its last heartbeat to lost_at
    users: int = 0  # users it ran when it went silent
    records_received: dict[str, int] = Field(default_factory=dict)  # kept in the results
    tickets_returned: int = 0  # unfinished sessions' tickets handed to the other workers
    workers_remaining: int = 0


class AgentInfo(BaseModel):
    """The agent folder a run measured, as ADK's loader loaded it (bench.agent.loading)."""

    folder: str
    source: str = ""  # "app in agent.py", "root_agent in __init__.py", "root_agent.yaml", ...
    app_name: str | None = None  # the folder's App, when it has one (sessions ran through it)
    plugins: list[str] = Field(default_factory=list)  # the App's own plugins, which ran
    warnings: list[str] = Field(default_factory=list)  # Gemini-only features it runs without


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    run_id: str
    status: RunStatus = RunStatus.RUNNING
    message: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    criteria: dict[str, Any] = Field(default_factory=dict)
    slo: dict[str, float] | None = None
    known_tools: list[str] = Field(default_factory=list)
    agent: AgentInfo | None = None
    tool_parser: str | None = None
    # written by benches that skipped conversation_scenario cases (now run); read for old runs
    skipped_cases: list[SkippedCase] = Field(default_factory=list)
    summary_info: SummaryInfo = Field(default_factory=SummaryInfo)
    # Filled when the run ends.
    counts: dict[str, int] = Field(default_factory=dict)
    raw_bad_lines: int = 0
    judge_model: str | None = None
    lost_workers: list[LostWorker] = Field(default_factory=list)  # master runs only
    # Load steps, sweeps and the SLA search.
    step: int = 0
    sweep_id: str | None = None
    sweep_point: str | None = None
    sweep_combo: str | None = None
    sweep_load: float | None = None
    prefix_cache_reset: str | None = None
    engine_flags_swept: dict[str, str] = Field(default_factory=dict)


def write_manifest(run_dir: RunDir, manifest: Manifest) -> None:
    """Atomic: a reader never sees half a file."""
    tmp = run_dir.manifest.with_name(run_dir.manifest.name + ".tmp")
    data = redact_urls(manifest.model_dump(mode="json"))  # a URL's password never lands here
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, run_dir.manifest)


def read_manifest(run_dir: RunDir) -> Manifest:
    path = run_dir.manifest
    try:
        return Manifest.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"{run_dir}: not a run folder (no {path.name})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise BenchError(f"{path}: field '{where}': {first['msg']}") from None


def update_manifest(run_dir: RunDir, **fields: Any) -> Manifest:
    """Set some fields (validated) and write the file again."""
    current = read_manifest(run_dir)
    updated = Manifest.model_validate({**current.model_dump(), **fields})
    write_manifest(run_dir, updated)
    return updated
