"""`bench sweep`'s own settings, declared once (bench.schemas.setting) with the rules that tie them
together; the run settings every point shares are RunConfig's.

    SweepConfig.model_validate({"users": "1,8,32", "step_duration_s": "30s"})
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bench.schemas.flags import duration_s, number_list, parse_slo
from bench.schemas.setting import Setting as S

__all__ = ["MaxLoadSearch", "SweepConfig"]

LoadAxis = Literal["users", "session_rate"]


def _ints(value: Any) -> Any:
    return None if value is None else number_list(value, int)


def _floats(value: Any) -> Any:
    return None if value is None else number_list(value, float)


class MaxLoadSearch(BaseModel):
    """--find-max-load: the range searched and what a passing load meets (saved in the plan)."""

    model_config = ConfigDict(extra="forbid")

    low: float
    high: float
    rate_tolerance: float
    slo: dict[str, float]
    percentile: Literal[90, 99]
    min_tool_accuracy: float | None
    accuracy_metric: str
    max_error_rate: float


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Annotated[list[str], S("Model (repeatable: a model matrix, one server at a time).",
                                  decls=("--model", "-m"))] = ["tiny"]  # fmt: skip
    engine_arg: Annotated[list[str], S(
        "vLLM flag KEY=V1,V2,... is swept (Cartesian product); KEY=VALUE is fixed. Repeatable. "
        "Flags after -- are fixed too.")] = []  # fmt: skip
    users: Annotated[list[int] | None, BeforeValidator(_ints), S(
        "Users per point, e.g. 1,8,32 (with --find-max-load: the range LOW,HIGH searched).",
        cli_type=str | None)] = None  # fmt: skip
    session_rate: Annotated[list[float] | None, BeforeValidator(_floats), S(
        "Open loop instead: sessions/s per point (or the range searched).",
        cli_type=str | None)] = None  # fmt: skip
    step_duration_s: Annotated[float, BeforeValidator(duration_s), Field(gt=0), S(
        "Length of each point's load, e.g. 30s.", name="step_duration",
        cli_type=str | None)] = 60.0  # fmt: skip
    trials: Annotated[int, Field(gt=0), S("Repeat each point this many times.")] = 1
    sweep_id: Annotated[str | None, S("Sweep folder name (default: sweep-<time>).")] = None
    resume: Annotated[bool, S(
        "Continue the sweep --sweep-id, skipping finished points (give the original flags).",
        decls=("--resume",))] = False  # fmt: skip
    dry_run: Annotated[bool, S("Print the plan and exit.", decls=("--dry-run",))] = False
    # The SLA search.
    find_max_load: Annotated[bool, S(
        "Search the highest load meeting --slo and --min-tool-accuracy.", panel="search",
        decls=("--find-max-load",))] = False  # fmt: skip
    slo: Annotated[dict[str, float], S(
        "Latency SLOs: turn_ms=..,ttft_ms=..,tpot_ms=..,session_ms=.. (also ttft_text_ms, "
        "ttft_tool_ms)", panel="search", cli_type=str | None)] = {}  # fmt: skip
    slo_percentile: Annotated[Literal[90, 99], S(
        "Percentile the SLOs apply to: 90 or 99.", panel="search", cli_type=int | None)] = 90  # fmt: skip
    min_tool_accuracy: Annotated[float | None, Field(ge=0, le=1), S(
        "Lowest acceptable tool accuracy (0-1).", panel="search")] = None  # fmt: skip
    accuracy_metric: Annotated[str, S(
        "Summary column used as tool accuracy.", panel="search")] = "tool_trajectory_exact"  # fmt: skip
    max_error_rate: Annotated[float, Field(ge=0, le=1), S(
        "Highest acceptable turn error rate.", panel="search")] = 0.0  # fmt: skip
    rate_tolerance: Annotated[float, Field(gt=0), S(
        "Session-rate search stops within this fraction.", panel="search")] = 0.1  # fmt: skip

    @field_validator("slo", mode="before")
    @classmethod
    def _slo_from_text(cls, value: Any) -> Any:
        return parse_slo(value) if isinstance(value, str) or value is None else value

    @field_validator("slo_percentile", mode="before")
    @classmethod
    def _percentile(cls, value: Any) -> Any:
        if value not in (90, 99):
            raise ValueError("--slo-percentile: 90 or 99")
        return value

    @model_validator(mode="after")
    def _flags_agree(self) -> SweepConfig:
        if self.users and self.session_rate:
            raise ValueError("--users and --session-rate: sweep one of them")
        if self.resume and not self.sweep_id:
            raise ValueError("--resume: give the --sweep-id of the sweep to continue")
        if self.find_max_load and self.trials != 1:
            raise ValueError("--trials: not with --find-max-load")
        if not self.find_max_load and (self.slo or self.min_tool_accuracy is not None):
            raise ValueError("--slo / --min-tool-accuracy: only with --find-max-load "
                             "(plain sweeps report every point)")  # fmt: skip
        if self.find_max_load and not self.slo and self.min_tool_accuracy is None:
            raise ValueError("--find-max-load: give --slo and/or --min-tool-accuracy")
        return self

    @property
    def load_axis(self) -> LoadAxis:
        return "session_rate" if self.session_rate else "users"

    @property
    def loads(self) -> list[float]:
        """The loads of every point (or the range searched); one user when none is given."""
        loads: list[float] = [*(self.session_rate or self.users or [1])]  # users stay ints
        return loads

    def first_load(self) -> dict[str, Any]:
        """The base config's load: the first point's (each point sets its own)."""
        first = self.loads[0]
        return {"users": int(first)} if self.load_axis == "users" else {"users": 1,
                                                                        "session_rate": first}  # fmt: skip

    def search(self) -> MaxLoadSearch | None:
        if not self.find_max_load:
            return None
        return MaxLoadSearch(low=min(self.loads), high=max(self.loads),
                             rate_tolerance=self.rate_tolerance, slo=dict(sorted(self.slo.items())),
                             percentile=self.slo_percentile,
                             min_tool_accuracy=self.min_tool_accuracy,
                             accuracy_metric=self.accuracy_metric,
                             max_error_rate=self.max_error_rate)  # fmt: skip
