"""manifest.json: what a run was (provenance, criteria, load) and how it ended (status).

One pydantic model owns every key. Writers use `Manifest` and `update_manifest`, and a key
that is not a field (a misspelling) is refused: by mypy (`ManifestFields`) and at run time
(extra="forbid"). Readers get attributes, never `.get("...")` on a dict. A file written by an
older bench may hold keys this one no longer declares: `read_manifest` keeps them aside and
writes them back unchanged, so `bench results rebuild` still reads such a run.
"""

from __future__ import annotations

import json
import os
from typing import Any, TypedDict, Unpack

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from bench.schemas.errors import BenchError
from bench.schemas.redact import redact_urls
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus

STORED = {"stored": True}  # validation context: the model is read from a file already written


class Declared(BaseModel):
    """Only declared keys. Read with `context=STORED`, keys an older bench wrote and this one
    no longer declares are kept aside (`unknown`) and written back as they were."""

    model_config = ConfigDict(extra="forbid")
    _unknown: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_unknown(
        cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        if not (info.context or {}).get("stored") or not isinstance(data, dict):
            return handler(data)
        unknown = {k: v for k, v in data.items() if k not in cls.model_fields}
        model = handler({k: v for k, v in data.items() if k not in unknown})
        model._unknown = unknown
        return model

    @model_serializer(mode="wrap")
    def _with_unknown(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {**self._unknown, **data} if self._unknown else data

    @property
    def unknown(self) -> dict[str, Any]:
        """Keys of an older file that this bench does not declare."""
        return dict(self._unknown)


class SkippedCase(BaseModel):
    case_id: str
    reason: str


class SummaryInfo(Declared):
    """The load that a run (or step) applied, copied into its summary row."""

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


class Manifest(Declared):
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


class ManifestFields(TypedDict, total=False):
    """The fields of `Manifest`, for typed updates (`update_manifest`): mypy refuses a key that
    is not one; a unit test keeps the two lists the same."""

    run_id: str
    status: RunStatus
    message: str
    started_at: str | None
    ended_at: str | None
    provenance: dict[str, Any]
    criteria: dict[str, Any]
    slo: dict[str, float] | None
    known_tools: list[str]
    agent: AgentInfo | None
    tool_parser: str | None
    skipped_cases: list[SkippedCase]
    summary_info: SummaryInfo
    counts: dict[str, int]
    raw_bad_lines: int
    judge_model: str | None
    lost_workers: list[LostWorker]
    step: int
    sweep_id: str | None
    sweep_point: str | None
    sweep_combo: str | None
    sweep_load: float | None
    prefix_cache_reset: str | None
    engine_flags_swept: dict[str, str]


def write_manifest(run_dir: RunDir, manifest: Manifest) -> None:
    """Atomic: a reader never sees half a file."""
    tmp = run_dir.manifest.with_name(run_dir.manifest.name + ".tmp")
    data = redact_urls(manifest.model_dump(mode="json"))  # a URL's password never lands here
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, run_dir.manifest)


def read_manifest(run_dir: RunDir) -> Manifest:
    path = run_dir.manifest
    try:
        return Manifest.model_validate_json(path.read_text(), context=STORED)
    except FileNotFoundError:
        raise BenchError(f"{run_dir}: not a run folder (no {path.name})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise BenchError(f"{path}: field '{where}': {first['msg']}") from None


def with_fields(manifest: Manifest, **fields: Unpack[ManifestFields]) -> Manifest:
    """A copy with some fields set (validated); a key that is not a field is refused (a
    ValueError naming it), even from a caller mypy does not check."""
    misspelt = sorted(set(fields) - set(Manifest.model_fields))
    if misspelt:
        raise ValueError(f"manifest: no field {', '.join(misspelt)}")
    return Manifest.model_validate({**manifest.model_dump(), **fields}, context=STORED)


def update_manifest(run_dir: RunDir, **fields: Unpack[ManifestFields]) -> Manifest:
    """Set some fields (validated) and write the file again."""
    updated = with_fields(read_manifest(run_dir), **fields)
    write_manifest(run_dir, updated)
    return updated
