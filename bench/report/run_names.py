"""Names for runs in plots, legends and headers: what differs between them.

    run_names(runs) -> {"users-1": "users=1", "users-4": "users=4"}

A report of a users=1 and a users=4 run names them `users=1` and `users=4`, not by their ids or
by what they share. The settings looked at, in this order: the load (users, session rate, load
options), each engine flag, the model, the eval set, streaming, tool choice, the vLLM version and
the GPUs. Runs that differ in none of them (repeats) keep their ids; two runs that would get the
same name get their ids added.
"""

from __future__ import annotations

import json
from typing import Any

from bench.report.comparability import LOAD_KEYS
from bench.report.runs import Run


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def settings(run: Run) -> dict[str, Any]:
    """The settings a name can be made of, each with its value (None: not recorded)."""
    summary, prov = run.summary, run.provenance
    load = prov.get("load") or {}
    out: dict[str, Any] = {
        "users": summary.get("users"),
        "session_rate": summary.get("session_rate"),
        **{key: load.get(key) for key in LOAD_KEYS},
    }
    for flag, value in sorted((prov.get("engine_flags") or {}).items()):
        out[flag] = value
    gpus = sorted(str(g.get("name") if isinstance(g, dict) else g) for g in prov.get("gpus") or [])
    out.update(
        model=summary.get("model") or prov.get("model"),
        eval_set=summary.get("eval_set_id") or prov.get("eval_set_id"),
        stream=summary.get("stream"),
        tool_choice=summary.get("tool_choice") or "auto",
        vllm=prov.get("vllm_version"),
        gpus=", ".join(gpus) or None,
    )
    return out


def differing(runs: list[Run]) -> list[str]:
    """The settings whose value is not the same in every run, in the order of `settings`."""
    table = [settings(run) for run in runs]
    keys: dict[str, None] = {}
    for row in table:
        keys.update(dict.fromkeys(row))
    return [k for k in keys if len({_text(row.get(k)) for row in table}) > 1]


def run_names(runs: list[Run]) -> dict[str, str]:
    """Run id -> a short name made of the settings that differ (the id when none does)."""
    keys = differing(runs) if len(runs) > 1 else []
    names = {}
    for run in runs:
        values = settings(run)
        parts = [f"{k}={_text(values.get(k))}" for k in keys if values.get(k) is not None]
        names[run.run_id] = ", ".join(parts) or run.run_id
    taken = list(names.values())
    return {
        run_id: f"{name} ({run_id})" if taken.count(name) > 1 and name != run_id else name
        for run_id, name in names.items()
    }
