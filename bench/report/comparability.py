"""Whether runs measured the same thing: the settings they differ in, read from their manifests.

`bench compare` lists every difference above its table, so a change in a figure is never read
as the model's or the engine's when the eval set, the criteria, the weights, the flags, the
versions or the machine changed with it:

    differences(runs)           -> [Difference("eval-set content", [("weather_time aa60…", ["a"]),
                                                                   ("home_automation 51c2…", ["b"])])]
    evalset_differs(run, base)  -> True: accuracy figures of `run` are not comparable with `base`

A value a run did not record (an older run, an attached endpoint that reports no engine flags)
shows as "not recorded"; a setting no run recorded is left out. Result schema versions never
mix: `bench.report.runs.check_schema_versions` refuses them before anything is compared.

`configuration(run)` is what a user chose (model, weights, eval set, criteria, engine flags,
load, hardware), as one string: runs with equal strings are repeats of one configuration
(`bench.report.repeats`), and `bench compare --history` follows one configuration over time.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.report.runs import Run

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Difference:
    """A setting whose value is not the same in every run: each value with the runs that had it."""

    setting: str
    values: list[tuple[str, list[str]]]

    def text(self) -> str:
        return f"{self.setting}: " + "; ".join(
            f"{value} ({', '.join(runs)})" for value, runs in self.values
        )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


def _prov(run: Run, key: str) -> Any:
    return run.provenance.get(key)


def _evalset(run: Run) -> str | None:
    """The eval set's id and the start of its content hash (runs without the hash: the id)."""
    sha = _prov(run, "eval_set_sha256")
    name = run.summary.get("eval_set_id") or _prov(run, "eval_set_id")
    return f"{name or '?'} {sha[:12]}" if sha else name


def _model(run: Run) -> str | None:
    model = run.summary.get("model") or _prov(run, "model")
    served = run.summary.get("served_model_name")
    if model and served and served != model:
        return f"{model} (served as {served})"
    return model or served


def _weights(run: Run) -> str | None:
    source, size = _prov(run, "model_source"), _prov(run, "weight_bytes")
    if not source and not size:
        return None
    return ", ".join(p for p in (source, f"{size} bytes" if size else "") if p)


def _stream(run: Run) -> str | None:
    stream = run.summary.get("stream")
    return None if stream is None else ("streamed" if stream else "not streamed")


def _endpoint(run: Run) -> str | None:
    """An attached server's URL (credentials were redacted when the config was written): runs
    against two deployments are not repeats. None for a server bench launched."""
    if not _prov(run, "endpoint_attached"):
        return None
    try:
        config = tomllib.loads(run.config_text)
    except tomllib.TOMLDecodeError:
        return None
    return (config.get("server") or {}).get("endpoint")


def _bench(run: Run) -> str | None:
    version, sha = _prov(run, "bench_version"), _prov(run, "git_sha")
    if not version:
        return None
    return f"{version} ({sha[:10]})" if sha else str(version)


def _gpus(run: Run) -> str | None:
    gpus = _prov(run, "gpus")
    if gpus is None:
        return None
    if not gpus:
        return "no GPU"
    names: dict[str, int] = {}
    for gpu in gpus:
        name = str(gpu.get("name") if isinstance(gpu, dict) else gpu)
        names[name] = names.get(name, 0) + 1
    return ", ".join(f"{n}x {name}" for name, n in sorted(names.items()))


def _cpu(run: Run) -> str | None:
    model, cores = _prov(run, "cpu_model"), _prov(run, "cpu_count")
    if not model and not cores:
        return None
    return ", ".join(p for p in (model, f"{cores} cores" if cores else "") if p)


def _cores(run: Run) -> str | None:
    cores = _prov(run, "cpu_count")
    return f"{cores} cores" if cores else None


def _thinking(run: Run) -> str | None:
    """--thinking and --thinking-budget as sent (runs before them recorded neither)."""
    if "thinking" not in run.summary:
        return None
    text = run.summary.get("thinking") or "model default"
    budget = run.summary.get("thinking_budget")
    if budget is not None and budget == budget:  # NaN: pandas' missing
        text += f", budget {int(budget)}"
    return str(text)


# The settings in the order they are listed; engine flags and criteria are listed per key.
SETTINGS: dict[str, Callable[[Run], str | None]] = {
    "eval-set content": _evalset,
    "model": _model,
    "served weights": _weights,
    "attached endpoint": _endpoint,
    "stream": _stream,
    "tool choice": lambda run: run.summary.get("tool_choice") or "auto",
    "reasoning parser": lambda run: (
        run.summary.get("reasoning_parser")
        or ("none" if "reasoning_parser" in run.summary else None)
    ),
    "thinking": _thinking,
    "vLLM version": lambda run: _prov(run, "vllm_version"),
    "bench version": _bench,
    "GPUs": _gpus,
    "CPU": _cpu,
}


def _group(runs: list[Run], values: list[str | None]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for run, value in zip(runs, values, strict=True):
        grouped.setdefault(NOT_RECORDED if value is None else value, []).append(run.run_id)
    return list(grouped.items())


def _setting(runs: list[Run], name: str, values: list[str | None]) -> Difference | None:
    if all(v is None for v in values) or len(set(values)) < 2:
        return None
    return Difference(name, _group(runs, values))


def _per_key(runs: list[Run], name: str, dicts: list[dict[str, Any] | None]) -> list[Difference]:
    """One difference per key that is not the same in every run that recorded the dict."""
    recorded = [(run, d) for run, d in zip(runs, dicts, strict=True) if d is not None]
    out = []
    if len(recorded) < len(runs) and recorded:
        values = [("recorded" if d is not None else None) for d in dicts]
        out.append(Difference(name, _group(runs, values)))
    keys = sorted({key for _, d in recorded for key in d})
    for key in keys:
        values = [_json(d[key]) if key in d else "absent" for _, d in recorded]
        if len(set(values)) > 1:
            out.append(Difference(f"{name} {key}", _group([r for r, _ in recorded], values)))
    return out


def _criteria(run: Run) -> dict[str, Any] | None:
    return dict(run.manifest.criteria) if run.manifest and run.manifest.criteria else None


def differences(runs: list[Run]) -> list[Difference]:
    """The settings that are not the same in every run, in the order of SETTINGS."""
    out: list[Difference] = []
    for name, read in SETTINGS.items():
        values = [read(run) for run in runs]
        if name == "CPU" and any(_prov(r, "cpu_model") is None for r in runs):
            values = [_cores(run) for run in runs]  # older runs recorded only the core count
        found = _setting(runs, name, values)
        if found:
            out.append(found)
        if name == "eval-set content":
            out += _per_key(runs, "criteria", [_criteria(r) for r in runs])
        if name == "served weights":
            out += _per_key(runs, "engine flag", [_prov(r, "engine_flags") for r in runs])
    return out


def evalset_differs(run: Run, base: Run) -> bool:
    """Other eval-set content or other criteria than the baseline: accuracy is not comparable."""
    mine, theirs = _prov(run, "eval_set_sha256"), _prov(base, "eval_set_sha256")
    if mine and theirs:
        if mine != theirs:
            return True
    elif run.summary.get("eval_set_id") != base.summary.get("eval_set_id"):
        return True
    return _criteria(run) != _criteria(base)


def saturated(runs: list[Run]) -> list[str]:
    """The runs whose load generator was the bottleneck (`client_saturated`)."""
    return [run.run_id for run in runs if run.summary.get("client_saturated")]


LOAD_KEYS = ("think_time_s", "tool_latency", "trials", "force_tools", "arrival")


def configuration(run: Run, versions: bool = True) -> str:
    """What the user chose for this run, as one comparable string; `versions` adds the vLLM and
    bench versions (repeats share them; a history follows one configuration across them)."""
    load = run.provenance.get("load") or {}
    chosen: dict[str, Any] = {
        name: read(run)
        for name, read in SETTINGS.items()
        if versions or name not in ("vLLM version", "bench version")
    }
    chosen.update(
        criteria=_criteria(run),
        engine_flags=_prov(run, "engine_flags"),
        users=run.summary.get("users"),
        session_rate=run.summary.get("session_rate"),
        **{key: load.get(key) for key in LOAD_KEYS if key != "arrival"},
    )
    if run.summary.get("session_rate") is not None:
        chosen["arrival"] = load.get("arrival")
    return _json({k: v for k, v in chosen.items() if v == v})  # NaN (pandas' missing) left out
