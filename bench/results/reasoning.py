"""What thinking cost the agent's calls and turns, for the summary (and by turn index).

Over the measured, completed agent calls and turns (`bench.scoring.outcome.is_ok`), as the other
latency figures; each call's and turn's own columns are defined in
`bench.agent.reasoning_timing`:
- `reasoning_tokens_per_turn` / `reasoning_tokens_per_call`: means of the turns' (their calls'
  summed) and the calls' reasoning tokens; `reasoning_tokens_from` says where the counts came
  from (usage, stream, or both);
- `ttfo_p*_ms`: time to first output token (AIPerf's TTFO) percentiles; `ttfr_p*_ms`: time to
  first reasoning token, over the calls that reasoned;
- `turn_thinking_mean_ms`: the mean thinking time of a turn; `thinking_share`: thinking time
  summed over the turns / their latency summed (null when a call was not streamed);
- `reasoning_sent_back_chars_per_call`: the mean characters of earlier thoughts a request
  carried back to the server.
"""

from __future__ import annotations

from typing import Any

from bench.results.summary import mean, percentiles


def thinking_share(turns: list[dict[str, Any]]) -> float | None:
    """Thinking time over turn latency, summed over the turns whose thinking was timed."""
    timed = [t for t in turns if t.get("thinking_ms") is not None and t.get("latency_ms")]
    latency = sum(t["latency_ms"] for t in timed)
    return sum(t["thinking_ms"] for t in timed) / latency if latency > 0 else None


def reasoning_summary(
    ok_calls: list[dict[str, Any]], ok_turns: list[dict[str, Any]]
) -> dict[str, Any]:
    sources = sorted(
        {c["reasoning_tokens_from"] for c in ok_calls if c.get("reasoning_tokens_from")}
    )
    return {
        "reasoning_tokens_per_turn": mean([t.get("reasoning_tokens") for t in ok_turns]),
        "reasoning_tokens_per_call": mean([c.get("reasoning_tokens") for c in ok_calls]),
        "reasoning_tokens_from": "+".join(sources) or None,
        **percentiles([c.get("ttfo_ms") for c in ok_calls], "ttfo"),
        **percentiles([c.get("ttfr_ms") for c in ok_calls], "ttfr"),
        "turn_thinking_mean_ms": mean([t.get("thinking_ms") for t in ok_turns]),
        "thinking_share": thinking_share(ok_turns),
        "reasoning_sent_back_chars_per_call": mean(
            [c.get("reasoning_sent_back_chars") for c in ok_calls]
        ),
    }


def thought(summary: dict[str, Any]) -> bool:
    """Whether the run's figures say anything about thinking: the model reasoned, or thinking or
    a reasoning parser was asked for."""
    return bool(summary.get("reasoning_tokens_per_turn") or summary.get("thinking")
                or summary.get("reasoning_parser") or summary.get("ttfr_p50_ms") is not None)  # fmt: skip


def reasoning_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The console summary's lines about thinking (none for a run that did not think)."""
    if not thought(summary):
        return []

    def num(key: str, digits: int = 1) -> str:
        value = summary.get(key)
        return "-" if value is None else f"{value:.{digits}f}"

    share = summary.get("thinking_share")
    source = summary.get("reasoning_tokens_from")
    return [
        ("thinking (--thinking) / reasoning parser",
         f"{summary.get('thinking') or 'model default'} / "
         f"{summary.get('reasoning_parser') or 'none'}"),
        ("reasoning tokens per turn / per call" + (f" (from {source})" if source else ""),
         f"{num('reasoning_tokens_per_turn')} / {num('reasoning_tokens_per_call')}"),
        ("TTFO, time to first output token p50 / p90 / p99 (ms)",
         " / ".join(num(f"ttfo_p{p}_ms") for p in (50, 90, 99))),
        ("time to first reasoning token p50 / p90 / p99 (ms)",
         " / ".join(num(f"ttfr_p{p}_ms") for p in (50, 90, 99))),
        ("thinking per turn, mean (ms) / share of turn latency",
         f"{num('turn_thinking_mean_ms')} / {'-' if share is None else f'{share:.1%}'}"),
        ("earlier thoughts sent back per call, mean (chars)",
         num("reasoning_sent_back_chars_per_call")),
    ]  # fmt: skip
