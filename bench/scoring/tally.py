"""The one counter of tool accuracy per tool and per eval case, from turns' tool calls.

Pure Python (no pandas), so the `tools` table, the HTML report and the live web UI tab count the
same way: expected calls are paired with actual calls by `bench.scoring.calls.pair_calls`; a
pair whose arguments are equal is an exact call; `partial` sums per-argument credit over pairs.

- per tool: expected, called, matched (name), exact (name and arguments), missed, extra;
- per case: completed turns, those whose calls equal the expected calls exactly, and the same
  counts; failed and incomplete turns counted apart; session outcomes (task success).

Tool accuracy is over completed turns (`bench.scoring.outcome`): a failed or incomplete turn's
calls are not counted in it, as in the summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bench.scoring.calls import arg_credit, args_equal, pair_calls
from bench.scoring.outcome import INCOMPLETE, TaskSuccess, is_failed, is_incomplete


def _calls(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


@dataclass
class Tally:
    expected: int = 0
    called: int = 0
    matched: int = 0  # paired by name: each pair's arguments are compared
    exact: int = 0
    partial: float = 0.0  # per-argument credit summed over the pairs

    @property
    def missed(self) -> int:
        return self.expected - self.matched

    @property
    def extra(self) -> int:
        return self.called - self.matched

    def add(self, other: Tally) -> None:
        self.expected += other.expected
        self.called += other.called
        self.matched += other.matched
        self.exact += other.exact
        self.partial += other.partial

    def rates(self) -> dict[str, float | None]:
        return {
            "precision": self.matched / self.called if self.called else None,
            "recall": self.matched / self.expected if self.expected else None,
            "exact_rate": self.exact / self.expected if self.expected else None,
        }


def _same_calls(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    """The same calls in the same order, arguments compared by value (ADK's EXACT match)."""
    return len(actual) == len(expected) and all(
        a.get("name") == e.get("name") and args_equal(a.get("args"), e.get("args"))
        for a, e in zip(actual, expected, strict=True)
    )


def tally_turn(actual: Any, expected: Any) -> dict[str, Tally]:
    """Per tool name, the counts of one turn."""
    act, exp = _calls(actual), _calls(expected)
    tallies: dict[str, Tally] = {}
    for call in act:
        tallies.setdefault(str(call.get("name")), Tally()).called += 1
    for want in exp:
        tallies.setdefault(str(want.get("name")), Tally()).expected += 1
    for got, want in pair_calls(act, exp):
        tally = tallies[str(want.get("name"))]
        tally.matched += 1
        tally.exact += int(args_equal(got.get("args"), want.get("args")))
        tally.partial += arg_credit(got.get("args") or {}, want.get("args") or {})
    return tallies


@dataclass
class CaseTally:
    turns: int = 0  # completed turns
    exact_turns: int = 0
    errors: int = 0  # failed turns
    incomplete: int = 0  # turns still running at the end of the drain
    tools: Tally = field(default_factory=Tally)
    sessions: TaskSuccess = field(default_factory=TaskSuccess)


@dataclass
class AccuracyBoard:
    """Running per-case and per-tool counts; `add_turn` per finished turn, `add_session` per
    session outcome."""

    by_tool: dict[str, Tally] = field(default_factory=dict)
    by_case: dict[str, CaseTally] = field(default_factory=dict)

    def add_turn(
        self,
        case_id: str,
        actual: Any,
        expected: Any,
        error: bool = False,
        incomplete: bool = False,
    ) -> None:
        case = self.by_case.setdefault(str(case_id), CaseTally())
        if incomplete or error:
            case.incomplete += int(incomplete)
            case.errors += int(error and not incomplete)
            return
        if expected is None:  # a scenario turn: no expected calls, tool metrics not applicable
            return
        case.turns += 1
        case.exact_turns += int(_same_calls(_calls(actual), _calls(expected)))
        for name, tally in tally_turn(actual, expected).items():
            self.by_tool.setdefault(name, Tally()).add(tally)
            case.tools.add(tally)

    def add_session(self, case_id: str, outcome: str) -> None:
        self.by_case.setdefault(str(case_id), CaseTally()).sessions.add(outcome)

    def task_success(self) -> TaskSuccess:
        total = TaskSuccess()
        for case in self.by_case.values():
            total.merge(case.sessions)
        return total

    def merge(self, other: AccuracyBoard) -> None:
        for name, tally in other.by_tool.items():
            self.by_tool.setdefault(name, Tally()).add(tally)
        for case_id, c in other.by_case.items():
            mine = self.by_case.setdefault(case_id, CaseTally())
            mine.turns += c.turns
            mine.exact_turns += c.exact_turns
            mine.errors += c.errors
            mine.incomplete += c.incomplete
            mine.tools.add(c.tools)
            mine.sessions.merge(c.sessions)

    def tool_rows(self) -> list[dict[str, Any]]:
        rows = []
        for name, t in sorted(self.by_tool.items()):
            rows.append({"tool": name, "expected": t.expected, "called": t.called,
                         "matched": t.matched, "exact": t.exact, "missed": t.missed,
                         "extra": t.extra, **t.rates()})  # fmt: skip
        return rows

    def case_rows(self) -> list[dict[str, Any]]:
        rows = []
        for case_id, c in sorted(self.by_case.items()):
            rows.append({"case": case_id, "turns": c.turns, "exact_turns": c.exact_turns,
                         "exact_turn_rate": c.exact_turns / c.turns if c.turns else None,
                         "errors": c.errors, "incomplete_turns": c.incomplete,
                         "expected": c.tools.expected, "called": c.tools.called,
                         "sessions": sum(c.sessions.counts.values()),
                         "sessions_passed": c.sessions.counts["passed"],
                         "sessions_cut_short": c.sessions.counts["cut_short"],
                         "sessions_incomplete": c.sessions.counts[INCOMPLETE],
                         "task_success_rate": c.sessions.rate,
                         **c.tools.rates()})  # fmt: skip
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (Locust worker -> master reports)."""
        return {
            "tools": {n: [t.expected, t.called, t.matched, t.exact, t.partial]
                      for n, t in self.by_tool.items()},
            "cases": {
                c: [v.turns, v.exact_turns, v.errors, v.incomplete, v.tools.expected,
                    v.tools.called, v.tools.matched, v.tools.exact, v.tools.partial,
                    v.sessions.counts]
                for c, v in self.by_case.items()
            },
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccuracyBoard:
        board = cls()
        for name, (e, c, m, x, p) in (data.get("tools") or {}).items():
            board.by_tool[name] = Tally(e, c, m, x, p)
        for case_id, row in (data.get("cases") or {}).items():
            turns, exact, errors, incomplete, e, c, m, x, p, outcomes = row
            board.by_case[case_id] = CaseTally(
                turns, exact, errors, incomplete, Tally(e, c, m, x, p), TaskSuccess(dict(outcomes))
            )
        return board


def board_from_turns(
    turns: list[dict[str, Any]], sessions: list[dict[str, Any]] | None = None
) -> AccuracyBoard:
    """The board of a finished run: its turns, and its sessions' `outcome` when given."""
    board = AccuracyBoard()
    for turn in turns:
        if turn.get("warmup"):
            continue
        board.add_turn(
            turn.get("case_id") or "?",
            turn.get("tool_calls"),
            turn.get("expected_tool_calls"),
            error=is_failed(turn),
            incomplete=is_incomplete(turn),
        )
    for session in sessions or []:
        if not session.get("warmup") and session.get("outcome"):
            board.add_session(session.get("case_id") or "?", str(session["outcome"]))
    return board
