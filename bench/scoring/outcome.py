"""What became of an LLM call, a turn and a session: one definition for every figure.

The summary, `bench compare` / `bench report` and the live web UI all classify records here:

- **incomplete**: still in flight at the end of the drain (`--drain`: at the stop no new session
  or turn starts, work in flight gets the drain, what is left is cut). Recorded with its age at
  the cut (`e2e_ms`, `latency_ms`, `duration_ms`). Not an error and no result: its latency is a
  lower bound, it has no verdict. A call still in flight at the cut that is older than the
  request timeout is recorded as a failure (`Timeout`) instead, and so is its turn.
- **failed**: an error (server error, timeout, malformed reply, a reply that ended with finish
  reason "error", a tool call the server announced but nobody could parse, a tool that raised).
- **ok**: neither.

A session that saw a failed turn is **cut short**: its later turns never run, and it is a
failure for task success whatever its earlier turns scored. A session outcome is one of
`SESSION_OUTCOMES`; task success is passed / (passed + failed + cut short), and its lower bound
counts the incomplete sessions as not passed (`TaskSuccess.bound`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.schemas.records import TEXT_REPLY, TOOL_CALL_REPLY, USER_SIMULATOR_ROLE

# Raw records written before results schema 3 called a cut turn "Cancelled"; an LLM call cut by
# the load stopping is recorded with the class of the exception, CancelledError.
CANCELLED_ERROR_TYPES = frozenset({"Cancelled", "CancelledError"})
# Raw records before results schema 4 flagged incomplete work as `truncated`.
LEGACY_INCOMPLETE_KEY = "truncated"

PASSED, FAILED, CUT_SHORT, INCOMPLETE, UNSCORED = (
    "passed",  # completed, every metric of the criteria met
    "failed",  # completed, some metric not met
    "cut_short",  # a turn failed, so the session ended early: a failure
    "incomplete",  # still running at the end of the drain (or stopped before its next turn)
    "unscored",  # completed, but no metric of the criteria could be evaluated
)
SESSION_OUTCOMES = (PASSED, FAILED, CUT_SHORT, INCOMPLETE, UNSCORED)
TASK_OUTCOMES = (PASSED, FAILED, CUT_SHORT)  # the denominator of task success
LEGACY_OUTCOMES = {"truncated": INCOMPLETE}  # session outcomes of results schema 3


def error_type(record: Mapping[str, Any]) -> str | None:
    """The record's error class; None for no error (also for NaN or "" read back by pandas)."""
    value = record.get("error_type")
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _flag(value: Any) -> bool:
    return value is not None and value == value and bool(value)  # NaN (pandas' missing) is no flag


def is_incomplete(record: Mapping[str, Any]) -> bool:
    if _flag(record.get("incomplete")) or _flag(record.get(LEGACY_INCOMPLETE_KEY)):
        return True
    return error_type(record) in CANCELLED_ERROR_TYPES


def is_failed(record: Mapping[str, Any]) -> bool:
    """An LLM call or turn with an error; an incomplete one is not failed."""
    return error_type(record) is not None and not is_incomplete(record)


def is_ok(record: Mapping[str, Any]) -> bool:
    """An LLM call or turn that completed without error."""
    return error_type(record) is None and not is_incomplete(record)


def upgrade_legacy(record: dict[str, Any]) -> dict[str, Any]:
    """A raw record of an older results schema, in today's columns (in place): `truncated`
    becomes `incomplete`, a cancelled call's error class is no error but the flag."""
    if LEGACY_INCOMPLETE_KEY in record:
        flag = record.pop(LEGACY_INCOMPLETE_KEY)
        record.setdefault("incomplete", _flag(flag))
    if error_type(record) in CANCELLED_ERROR_TYPES:
        record["incomplete"] = True
        record["error_type"] = record["error"] = None
    if "timing_layer" in record and "reply_kind" not in record:  # an LLM call before the column
        record["reply_kind"] = legacy_reply_kind(record)
    return record


def legacy_reply_kind(call: Mapping[str, Any]) -> str | None:
    """The reply kind of a call recorded without one: a tool call when ADK or the server saw one
    (bench.agent.reply_timing's rule), else text when a reply came."""
    if (call.get("tool_calls_n") or 0) > 0 or (call.get("server_tool_calls_n") or 0) > 0:
        return TOOL_CALL_REPLY
    if call.get("finish_reason") == "tool_calls":
        return TOOL_CALL_REPLY
    replied = call.get("ttft_ms") is not None or (
        not call.get("error_type") and not call.get("incomplete")
    )
    return TEXT_REPLY if replied else None


def is_user_simulator_call(record: Mapping[str, Any]) -> bool:
    """An LLM call of ADK's user simulator (a scenario case), not of the agent under test: it
    never counts in the agent's latency, throughput or call counts."""
    return record.get("call_role") == USER_SIMULATOR_ROLE


def is_scenario_session(session: Mapping[str, Any]) -> bool:
    """A session of a conversation_scenario case, played with ADK's user simulator (it records
    why the simulator ended it); nothing expected to compare its turns with."""
    return bool(session.get("user_simulator_status"))


def agent_calls(records: Iterable[Mapping[str, Any]]) -> list[Any]:
    """The agent's LLM calls (records written before call_role existed are all the agent's)."""
    return [r for r in records if not is_user_simulator_call(r)]


def session_outcome(session: Mapping[str, Any], case_passed: bool | None) -> str:
    """One of `SESSION_OUTCOMES`; `case_passed` is the criteria's verdict on a complete session.
    (A session whose call timed out at the cut is not incomplete: it failed, so is cut short.)"""
    if is_incomplete(session):
        return INCOMPLETE
    if session.get("errors") or (session.get("turns") or 0) < (session.get("turns_expected") or 0):
        return CUT_SHORT
    if case_passed is None:
        return UNSCORED
    return PASSED if case_passed else FAILED


def outcome_passed(outcome: str) -> bool | None:
    """`case_passed` of a session with this outcome: a cut-short session did not pass."""
    if outcome == PASSED:
        return True
    if outcome in (FAILED, CUT_SHORT):
        return False
    return None


@dataclass
class TaskSuccess:
    """Session outcomes counted; `rate` is task success (the headline accuracy figure)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SESSION_OUTCOMES, 0))

    def add(self, outcome: str, n: int = 1) -> None:
        outcome = LEGACY_OUTCOMES.get(outcome, outcome)
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    def merge(self, other: TaskSuccess) -> None:
        for outcome, n in other.counts.items():
            self.add(outcome, n)

    @property
    def counted(self) -> int:
        return sum(self.counts.get(o, 0) for o in TASK_OUTCOMES)

    @property
    def rate(self) -> float | None:
        return self.counts.get(PASSED, 0) / self.counted if self.counted else None

    @property
    def with_incomplete(self) -> int:
        """Sessions that have a verdict or would have had one: the bound's denominator."""
        return self.counted + self.counts.get(INCOMPLETE, 0)

    @property
    def bound(self) -> float | None:
        """The lower bound of task success: passed over the sessions with a verdict and the
        incomplete ones (had every incomplete session failed)."""
        n = self.with_incomplete
        return self.counts.get(PASSED, 0) / n if n else None

    @property
    def undecided_share(self) -> float | None:
        """The share of `with_incomplete` that has no verdict (incomplete)."""
        n = self.with_incomplete
        return self.counts.get(INCOMPLETE, 0) / n if n else None

    @classmethod
    def of(cls, outcomes: Iterable[str | None]) -> TaskSuccess:
        tally = cls()
        for outcome in outcomes:
            if outcome is not None:
                tally.add(outcome)
        return tally
