"""The fake server's faults: what a failing request gets, drawn and logged so a test knows the truth.

`--fail-rate R --fault F[,F...]`: each chat request fails with probability R (seeded by
`--seed`); a failing one gets one of the listed faults that fit its reply, drawn uniformly.
Every fault given is counted in `/metrics` (`fake:faults_total{fault=...}`) and, with
`--fault-log FILE`, written as one JSON line (`FaultLogEntry`) with what the reply would have
been and the request's headers (credentials left out), so a test matches faults to sessions
(bench sends the session id under `--session-header`).

- `500`, `reset`, `stall`, `malformed`: the request fails (status 500, a reset connection, no
  answer for `--stall-s` then 500, a broken JSON chunk);
- `unparsed` (tool-call replies only): the call comes back as text in hermes format with its JSON
  left malformed, as when vLLM's parser misses a call that ADK cannot recover either;
- `text-call` (tool-call replies only): the same with well-formed JSON and finish reason "stop":
  the server's parser missed it, and ADK's LiteLlm pulls it out of the text and makes it;
- `finish-error`: half the reply (the first half of a call's argument pieces, or of the words),
  then finish reason "error", as some OpenAI-compatible servers end a failed generation;
- `length`: half the reply, then finish reason "length" (the token limit hit, maybe mid-call);
- `empty`: no text and no tool call, finish reason "stop".
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAULTS: tuple[str, ...] = (
    "500", "malformed", "stall", "reset", "unparsed", "text-call", "finish-error", "length",
    "empty",
)  # fmt: skip
TOOL_CALL_ONLY = frozenset({"unparsed", "text-call"})  # only a reply with a call can get these
CUT_IN_HALF = {"finish-error": "error", "length": "length"}  # fault -> finish reason sent


def parse_faults(text: str) -> tuple[str, ...]:
    """`500` or `length,empty,text-call`: the faults to draw from (ValueError names a bad one)."""
    faults = tuple(f.strip() for f in str(text).split(",") if f.strip())
    unknown = [f for f in faults if f not in FAULTS]
    if unknown or not faults:
        raise ValueError(f"unknown fault {unknown[0] if unknown else text!r}; one or more of "
                         f"{', '.join(FAULTS)}")  # fmt: skip
    return faults


def half(n: int) -> int:
    """How many of n pieces a reply cut in half keeps (at least one)."""
    return max(1, n // 2)


def draw_fault(
    rng: random.Random, fail_rate: float, faults: tuple[str, ...], tool_call: bool
) -> str | None:
    """The fault this request gets, or None. A reply that no listed fault fits (a text reply
    under `unparsed`) draws nothing, and one fault draws only the rate, so a seed gives the same
    faults as before faults could be listed."""
    fitting = [f for f in faults if tool_call or f not in TOOL_CALL_ONLY]
    if not fitting or fail_rate <= 0 or rng.random() >= fail_rate:
        return None
    return fitting[0] if len(fitting) == 1 else rng.choice(fitting)


def calls_in_text(calls: list[Any], well_formed: bool) -> str:
    """Tool calls in hermes format in the reply text. Malformed (`unparsed`): each JSON object
    misses its closing brace, so ADK's fallback cannot recover it either; well-formed
    (`text-call`): ADK's LiteLlm recovers it from the content by itself."""
    out = []
    for c in calls:
        payload = json.dumps({"name": c.name, "arguments": c.arguments})
        out.append(f"<tool_call>\n{payload if well_formed else payload[:-1]}\n</tool_call>")
    return "\n".join(out)


@dataclass
class FaultLogEntry:
    at: float  # epoch seconds, when the fault was drawn
    fault: str
    reply: str  # what the reply would have been: "tool_call" or "text"
    tool_calls: list[str]  # the names of the calls it would have made
    headers: dict[str, str]  # the request's headers (names in lower case), credentials left out


class FaultLog:
    """`--fault-log FILE`: one JSON line per fault given."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def write(self, fault: str, tool_calls: list[str], headers: dict[str, str]) -> None:
        if not self.path:
            return
        names_lower = {k.lower(): v for k, v in headers.items()}  # names are case-insensitive
        entry = FaultLogEntry(time.time(), fault, "tool_call" if tool_calls else "text",
                              tool_calls, names_lower)  # fmt: skip
        with open(self.path, "a") as out:
            out.write(json.dumps(entry.__dict__) + "\n")


def read_fault_log(path: str) -> list[dict[str, Any]]:
    """The entries of a fault log, for tests."""
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


class FaultInjector:
    """Which requests fail and how: the seeded draw, `--fault-above-inflight`, the log.

    With `above` set, a fault is drawn only for a request that saw more than `above` requests
    in flight (itself included) at some moment before the draw: a bug that appears only under
    concurrency. The most it saw counts, not the count at the draw (the others may just have
    finished).
    """

    def __init__(self, rate: float, faults: str, seed: int | None, above: int | None,
                 log_path: str | None) -> None:  # fmt: skip
        self.rate = rate
        self.faults = parse_faults(faults)
        self.above = above
        self.log = FaultLog(log_path)
        self._rng = random.Random(seed)
        self._peak_inflight: dict[int, int] = {}  # per request in flight: the most it saw
        self._next_key = 0

    def arrive(self, running: int) -> int:
        """A request joins the `running` in flight; its key for `pick` and `leave`."""
        self._next_key += 1
        self._peak_inflight[self._next_key] = 0
        for key in self._peak_inflight:  # every request in flight now sees one more
            self._peak_inflight[key] = max(self._peak_inflight[key], running)
        return self._next_key

    def leave(self, key: int) -> None:
        self._peak_inflight.pop(key, None)

    def pick(self, key: int, tool_calls: list[str], headers: Mapping[str, str]) -> str | None:
        """The fault this request gets, if any (logged); `tool_calls`: its reply's call names."""
        if self.above is not None and self._peak_inflight.get(key, 0) <= self.above:
            return None
        fault = draw_fault(self._rng, self.rate, self.faults, bool(tool_calls))
        if fault is not None:
            self.log.write(fault, tool_calls, dict(headers))
        return fault
