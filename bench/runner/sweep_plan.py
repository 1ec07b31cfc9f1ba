"""A sweep's plan: models x engine-flag combinations (one server lifetime each) x loads.

    parse_engine_axes(["max-num-seqs=8,16"])  -> swept axes and fixed flags
    plan_sweep(sweep_id, models, axes, "users", [1, 4], step_duration_s=60) -> SweepPlan
    combo_config(base, combo, ...) / load_for(base.load, axis, value, duration)

Pure: nothing here starts a process or reads a folder (`sweep_folder` does).
"""

from __future__ import annotations

import contextlib
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.errors import BenchError
from bench.schemas.flags import parse_engine_arg
from bench.schemas.redact import redact_urls

# Rough costs for the time-left estimate until real ones are measured.
SERVER_START_ESTIMATE_S = 30.0
POINT_OVERHEAD_ESTIMATE_S = 10.0  # Locust start and stop, tables

LoadAxis = Literal["users", "session_rate"]


@dataclass(frozen=True)
class EngineAxis:
    """One swept vLLM flag: `max-num-seqs=32,64,128` -> name max-num-seqs, three values."""

    name: str
    values: tuple[str, ...]

    @property
    def column(self) -> str:
        return self.name.replace("-", "_")


def parse_engine_axes(args: list[str]) -> tuple[list[EngineAxis], list[str]]:
    """`--engine-arg` values -> swept axes (a comma list) and fixed vLLM flags (one value)."""
    axes: list[EngineAxis] = []
    fixed: list[str] = []
    for text in args:
        key, sep, value = text.partition("=")
        key = key.strip().lstrip("-").replace("_", "-")
        values = tuple(v.strip() for v in value.split(",")) if sep else ()
        if sep and len(values) > 1:
            if not key or any(not v for v in values):
                raise BenchError(f"--engine-arg: '{text}' is not KEY=V1,V2,...")
            if any(a.name == key for a in axes):
                raise BenchError(f"--engine-arg: {key} is swept twice")
            axes.append(EngineAxis(key, values))
        else:
            fixed += parse_engine_arg(text)
    return axes, fixed


# Client options a sweep can take as axes: the same server, other requests (bench.agent.thinking).
OPTION_AXES = {"thinking": "--thinking", "thinking_budget": "--thinking-budget"}


def parse_option_axes(flags: dict[str, Any]) -> tuple[list[EngineAxis], dict[str, Any]]:
    """`--thinking on,off` / `--thinking-budget 0,512` -> swept option axes; one value stays a
    fixed option of every point (returned for the base config)."""
    axes: list[EngineAxis] = []
    fixed: dict[str, Any] = {}
    for name, flag in OPTION_AXES.items():
        text = flags.get(name)
        if text is None:
            continue
        values = tuple(v.strip() for v in str(text).split(","))
        if any(not v for v in values) or len(set(values)) != len(values):
            raise BenchError(f"{flag}: '{text}' is not a list of distinct values")
        for value in values:  # each value as bench run would take it
            try:
                LoadConfig.model_validate({name: value})
            except ValidationError as exc:
                message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
                raise BenchError(f"{flag}: {message}") from None
        if len(values) > 1:
            axes.append(EngineAxis(name, values))
        else:
            fixed[name] = values[0]
    return axes, fixed


def typed(value: str) -> Any:
    """A flag value as a column value: true/false -> bool, numbers -> int/float, else text."""
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(value)
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:60] or "x"


class Combo(BaseModel):
    """One server lifetime: a model and one value per swept engine flag."""

    model_config = ConfigDict(extra="forbid")

    combo_id: str
    model: str
    flags: dict[str, str]  # flag name (dashes) -> value as given

    def engine_args(self) -> list[str]:
        return [a for k, v in self.flags.items() for a in parse_engine_arg(f"{k}={v}")]


class Point(BaseModel):
    """One load step of one combination, repeated `repeat` times (0-based), with one value per
    swept client option (`--thinking on,off`: the same server, other requests)."""

    model_config = ConfigDict(extra="forbid")

    point_id: str
    combo_id: str
    load: float  # users (an integer) or sessions/s
    repeat: int = 0
    options: dict[str, str] = Field(default_factory=dict)  # option name -> value as given

    @property
    def group_id(self) -> str:
        """The combination and option values: points that differ only in load and repeat
        (the ones `cases_by_step` compares)."""
        return "/".join([self.combo_id, *(_slug(f"{k}-{v}") for k, v in self.options.items())])


class SweepPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sweep_id: str
    load_axis: LoadAxis
    step_duration_s: float
    axes: list[dict[str, Any]]  # [{"name": ..., "values": [...]}]
    combos: list[Combo]
    points: list[Point]  # empty when the loads are searched (`--find-max-load`)
    options: list[dict[str, Any]] = Field(default_factory=list)  # swept client options
    endpoint_attached: bool = False
    find_max_load: dict[str, Any] | None = None  # the search settings (bench.sla)
    workload: dict[str, Any] | None = None  # what every point plays; None in older plans

    def fingerprint(self) -> dict[str, Any]:
        """What must match for `--resume` to continue this sweep."""
        return self.model_dump(mode="json", include={"load_axis", "step_duration_s", "axes",
                                                     "options", "combos", "points",
                                                     "find_max_load", "workload"})  # fmt: skip

    def points_of(self, combo_id: str) -> list[Point]:
        return [p for p in self.points if p.combo_id == combo_id]

    def estimate_s(self, n_points: int, n_servers: int) -> float:
        start = 0.0 if self.endpoint_attached else SERVER_START_ESTIMATE_S
        return n_points * (self.step_duration_s + POINT_OVERHEAD_ESTIMATE_S) + n_servers * start


# The load settings every point of a sweep shares (the load itself, its duration and the number of
# load processes are the point's own or sized per run).
_SHARED_LOAD_FIELDS = {"spawn_rate", "arrival", "max_sessions_in_flight", "think_time_s", "seed",
                       "warmup_s", "warmup_sessions", "stream", "force_tools", "session_header",
                       "tool_latency", "request_timeout_s", "drain_s", "thinking",
                       "thinking_budget"}  # fmt: skip


def workload_of(cfg: RunConfig) -> dict[str, Any]:
    """What a sweep's points play, beyond models, engine flags and loads: the eval set and agent,
    how sessions are shaped, the user simulator (endpoint, model, key variable, --max-turns) and
    the judge. A resumed sweep must play the same, or its points would not compare. It is saved
    in the sweep folder, so credentials in an endpoint URL are redacted (keys are only named)."""
    return redact_urls({
        "evalset": cfg.evalset,
        "agent": str(cfg.agent) if cfg.agent else None,
        "load": cfg.load.model_dump(mode="json", include=_SHARED_LOAD_FIELDS),
        "user_simulator": cfg.user_simulator.model_dump(mode="json"),
        "judge": cfg.judge.model_dump(mode="json") if cfg.judge else None,
    })  # fmt: skip


def plan_sweep(
    sweep_id: str,
    models: list[str],
    axes: list[EngineAxis],
    load_axis: LoadAxis,
    loads: list[float],
    *,
    step_duration_s: float,
    repeats: int = 1,
    endpoint_attached: bool = False,
    find_max_load: dict[str, Any] | None = None,
    workload: dict[str, Any] | None = None,
    options: list[EngineAxis] | None = None,
) -> SweepPlan:
    """The Cartesian product models x axes (combinations) x client options x loads x repeats
    (points)."""
    options = options or []
    if options and find_max_load is not None:
        raise BenchError(f"{OPTION_AXES[options[0].name]}: give one value with --find-max-load "
                         "(search one setting at a time)")  # fmt: skip
    if not models:
        raise BenchError("--model: give at least one model")
    if len(set(models)) != len(models):
        raise BenchError("--model: a model is given twice")
    if repeats < 1:
        raise BenchError("--trials: must be at least 1")
    combos: list[Combo] = []
    for model in models:
        for values in itertools.product(*(a.values for a in axes)):
            flags = {a.name: v for a, v in zip(axes, values, strict=True)}
            parts = [f"c{len(combos):02d}", _slug(Path(model).name)]
            parts += [_slug(f"{k}-{v}") for k, v in flags.items()]
            combos.append(Combo(combo_id="-".join(parts), model=model, flags=flags))
    points: list[Point] = []
    if find_max_load is None:
        for combo in combos:
            for values in itertools.product(*(a.values for a in options)):
                chosen = {a.name: v for a, v in zip(options, values, strict=True)}
                for load in loads:
                    for repeat in range(repeats):
                        label = f"{load:g}" + (f"-r{repeat}" if repeats > 1 else "")
                        point = Point(point_id="", combo_id=combo.combo_id, load=load,
                                      repeat=repeat, options=chosen)  # fmt: skip
                        point.point_id = f"{point.group_id}/{load_axis}-{label}"
                        points.append(point)
    return SweepPlan(
        sweep_id=sweep_id,
        load_axis=load_axis,
        step_duration_s=step_duration_s,
        axes=[{"name": a.name, "values": list(a.values)} for a in axes],
        options=[{"name": a.name, "values": list(a.values)} for a in options],
        combos=combos,
        points=points,
        endpoint_attached=endpoint_attached,
        find_max_load=find_max_load,
        workload=workload,
    )


def load_for(
    base: LoadConfig, axis: LoadAxis, value: float, duration_s: float,
    options: dict[str, str] | None = None,
) -> LoadConfig:  # fmt: skip
    """The LoadConfig of one point: the base load shape at this users count or session rate,
    with the point's client options."""
    update: dict[str, Any] = {"user_steps": None, "rate_steps": None, "step_duration_s": None,
                              "sessions": None, "duration_s": duration_s}  # fmt: skip
    if options:  # validated as the plan was made; typed the way LoadConfig takes them
        update.update(LoadConfig.model_validate(options).model_dump(include=set(options)))
    if axis == "users":
        update["users"] = int(value)
    else:
        update["session_rate"] = float(value)
    return base.model_copy(update=update)


def combo_config(base: RunConfig, combo: Combo, sweep_dir: Path, run_id: str) -> RunConfig:
    engine = base.server.engine.model_copy(
        update={"extra_args": [*base.server.engine.extra_args, *combo.engine_args()]}
    )
    server = base.server.model_copy(update={"model": combo.model, "engine": engine})
    return base.model_copy(update={"server": server, "results_dir": sweep_dir, "run_id": run_id})


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def make_sweep_id() -> str:
    return "sweep-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
