"""`--tool-latency`: how long each tool call takes on top of the tool's own run time.

    800ms                          every tool, a fixed delay
    lognormal:median=1s,p90=3s     every tool, a log-normal delay with that median and p90
    uniform:0.2s-2s                every tool, uniform between the bounds
    get_weather=300ms              one tool (any of the forms above after NAME=); repeatable

A tool named in the flag takes its own delay; the others take the unnamed one (none: no delay).
Draws are seeded (`delay_s(tool, key)`): the same seed, case, trial, turn and call number give
the same delay in every run, whatever the scheduling, so runs with and without a change compare.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
_TOOL = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.+)$")
Z_90 = 1.2815515655446004  # the standard normal's 90th percentile
FORMS = "800ms, lognormal:median=1s,p90=3s, uniform:0.2s-2s or TOOL=one of those"


def _seconds(text: str, what: str) -> float:
    match = _SECONDS.match(text)
    if not match:
        raise ValueError(f"{what} '{text}' is not a duration like 300ms or 1.5s")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass(frozen=True)
class Delay:
    """One distribution: fixed, lognormal (mu, sigma of the log) or uniform (low, high)."""

    kind: str
    a: float
    b: float = 0.0

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "lognormal":
            return rng.lognormvariate(self.a, self.b)
        return rng.uniform(self.a, self.b)


def parse_delay(text: str) -> Delay:
    """One distribution's text -> Delay; ValueError names what is wrong."""
    kind, sep, params = text.strip().partition(":")
    if not sep:
        if not _SECONDS.match(text):
            raise ValueError(f"'{text}' is not {FORMS}")
        return Delay("fixed", _seconds(text, "delay"))
    kind = kind.strip().lower()
    if kind == "lognormal":
        values: dict[str, float] = {}
        for part in params.split(","):
            key, eq, value = part.partition("=")
            if not eq or key.strip() not in ("median", "p90"):
                raise ValueError(f"'{text}': lognormal takes median=DURATION,p90=DURATION")
            values[key.strip()] = _seconds(value, key.strip())
        if set(values) != {"median", "p90"}:
            raise ValueError(f"'{text}': lognormal takes median=DURATION,p90=DURATION")
        median, p90 = values["median"], values["p90"]
        if median <= 0 or p90 <= median:
            raise ValueError(f"'{text}': lognormal needs 0 < median < p90")
        return Delay("lognormal", math.log(median), math.log(p90 / median) / Z_90)
    if kind == "uniform":
        low, dash, high = params.partition("-")
        if not dash:
            raise ValueError(f"'{text}': uniform takes LOW-HIGH, e.g. uniform:0.2s-2s")
        lo, hi = _seconds(low, "low"), _seconds(high, "high")
        if hi < lo:
            raise ValueError(f"'{text}': uniform needs LOW <= HIGH")
        return Delay("uniform", lo, hi)
    raise ValueError(f"'{text}' is not {FORMS}")


@dataclass(frozen=True)
class ToolLatency:
    """The parsed flag: a default delay and delays per tool name."""

    default: Delay | None = None
    per_tool: dict[str, Delay] = field(default_factory=dict)
    seed: int = 0

    def delay_s(self, tool: str, key: str) -> float:
        """The delay for this call of `tool`; `key` names the call (case, trial, turn, number)."""
        delay = self.per_tool.get(tool, self.default)
        if delay is None:
            return 0.0
        return delay.draw(random.Random(f"{self.seed}:{tool}:{key}"))


def parse_tool_latency(texts: list[str] | tuple[str, ...], seed: int | None = None) -> ToolLatency:
    """The flag's values (repeatable) -> ToolLatency; ValueError names the bad value."""
    default: Delay | None = None
    per_tool: dict[str, Delay] = {}
    for text in texts:
        match = _TOOL.match(text.strip())
        if match:  # lognormal:median=... does not match: ':' is not in a tool name
            name = match.group(1)
            if name in per_tool:
                raise ValueError(f"tool {name} is given twice")
            per_tool[name] = parse_delay(match.group(2))
        else:
            if default is not None:
                raise ValueError(f"'{text}': give one delay for all tools, the others as TOOL=...")
            default = parse_delay(text)
    return ToolLatency(default, per_tool, seed or 0)


def tool_latency_texts(value: Any) -> list[str]:
    """Validator for the config field: a string or a list of strings, each checked."""
    texts = [value] if isinstance(value, str) else list(value or [])
    parse_tool_latency([str(t) for t in texts])
    return [str(t) for t in texts]
