"""The run folder: created before anything starts, with the resolved config and a manifest
that says `running`; load steps get folders of their own (`step-NN-users-8/`)."""

from __future__ import annotations

import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Unpack

import tomli_w

from bench import constants
from bench.results.provenance import host_info
from bench.runner.inputs import RunInputs
from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.errors import BenchError
from bench.schemas.manifest import (
    AgentInfo,
    Manifest,
    ManifestFields,
    SummaryInfo,
    read_manifest,
    with_fields,
    write_manifest,
)
from bench.schemas.redact import redact_urls
from bench.schemas.run_dir import RunDir


def user_simulator_provenance(cfg: Any, evalset: Any, info: dict[str, Any]) -> dict[str, Any]:
    """The simulator settings of a run with scenario cases (a bad eval config fails here, before
    the server starts its load): ADK's config as used, and where the simulator's calls went."""
    from bench.agent.user_simulator import evalset_simulator_config

    config = evalset_simulator_config(evalset, cfg.user_simulator.max_turns)
    return {
        "endpoint": cfg.user_simulator.api_base or "server under test",
        "model": cfg.user_simulator.model or info.get("served_model_name") or cfg.server.model,
        "max_allowed_invocations": config.max_allowed_invocations,
        "config": config.model_dump(
            mode="json", exclude_none=True, exclude={"model_configuration"}
        ),
        "scenario_cases": evalset.scenario_cases,
    }


def make_run_id(cfg: RunConfig, eval_set_id: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    model = Path(cfg.server.model).name.replace("/", "_")
    return f"{stamp}-{model}-{eval_set_id}-{secrets.token_hex(2)}"


def prepare_run_dir(results_dir: Path, run_id: str) -> RunDir:
    """Create the run folder, or fail with one line before anything starts."""
    run_dir = RunDir(results_dir / run_id)
    try:
        run_dir.raw.mkdir(parents=True, exist_ok=False)
        probe = run_dir.path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except FileExistsError:
        raise BenchError(f"--run-id: {run_dir} already exists") from None
    except OSError as exc:
        raise BenchError(f"--results-dir: cannot write to {results_dir} ({exc.strerror})") from None
    free = shutil.disk_usage(run_dir.path).free
    if free < constants.MIN_FREE_BYTES:
        raise BenchError(f"--results-dir: {results_dir} is full ({free // 1024} KiB free)")
    return run_dir


def create_run_folder(cfg: RunConfig, inputs: RunInputs) -> RunDir:
    """The folder, config.resolved.toml and a `running` manifest with the provenance."""
    evalset = inputs.evalset
    run_dir = prepare_run_dir(cfg.results_dir, cfg.run_id or make_run_id(cfg, evalset.eval_set_id))
    run_dir.config.write_text(
        tomli_w.dumps(_toml_safe(redact_urls(cfg.model_dump(mode="json", exclude_none=True))))
    )
    info = inputs.plan_info
    provenance = {
        **host_info(),
        **info,
        "model": cfg.server.model,
        "eval_set_id": evalset.eval_set_id,
        "eval_set_files": [str(f) for f in evalset.files],
        "eval_set_sha256": evalset.content_sha256,
        "load": cfg.load.model_dump(mode="json"),
    }
    if getattr(evalset, "scenario_cases", 0):
        provenance["user_simulator"] = redact_urls(user_simulator_provenance(cfg, evalset, info))
    manifest = Manifest(
        run_id=run_dir.path.name,
        started_at=datetime.now(UTC).isoformat(),
        provenance=provenance,
        criteria=evalset.criteria,
        slo=cfg.slo,
        known_tools=inputs.known_tools,
        agent=AgentInfo.model_validate(inputs.agent.info()) if inputs.agent else None,
        tool_parser=info.get("tool_parser") or cfg.server.tool_parser,
        summary_info=SummaryInfo(
            model=cfg.server.model,
            served_model_name=info.get("served_model_name"),
            eval_set_id=evalset.eval_set_id,
            users=cfg.load.users_effective,
            session_rate=cfg.load.session_rate,
            max_sessions_in_flight=cfg.load.sessions_in_flight_cap,
            processes=cfg.load.processes,
            stream=cfg.load.stream,
            tool_choice=(
                constants.TOOL_CHOICE_FORCED if cfg.load.force_tools else constants.TOOL_CHOICE_AUTO
            ),
            reasoning_parser=info.get("reasoning_parser", cfg.server.reasoning_parser),
            thinking=cfg.load.thinking,
            thinking_budget=cfg.load.thinking_budget,
            request_timeout_s=cfg.load.request_timeout_s,
            drain_s=cfg.load.drain_s,
            trials=cfg.load.trials,
        ),
    )
    write_manifest(run_dir, manifest)
    return run_dir


def create_step_folder(
    run_dir: RunDir, index: int, load: LoadConfig, **fields: Unpack[ManifestFields]
) -> RunDir:
    """`step-NN-<load>/`: a run folder of its own whose manifest starts as the parent's."""
    step_dir = run_dir.step(index, load.step_label())
    step_dir.raw.mkdir(parents=True)
    parent = read_manifest(run_dir)
    info = parent.summary_info.model_copy(
        update={"users": load.users_effective, "session_rate": load.session_rate,
                "thinking": load.thinking, "thinking_budget": load.thinking_budget}
    )  # fmt: skip
    run_id = f"{parent.run_id}/{step_dir.path.name}"
    provenance = {**parent.provenance, "load": load.model_dump(mode="json")}  # this step's own
    step: ManifestFields = {"run_id": run_id, "step": index, "summary_info": info,
                            "provenance": provenance, **fields}  # fmt: skip
    write_manifest(step_dir, with_fields(parent, **step))
    return step_dir


def _toml_safe(value: Any) -> Any:
    """TOML has no null: drop None values recursively."""
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_safe(v) for v in value if v is not None]
    return value
