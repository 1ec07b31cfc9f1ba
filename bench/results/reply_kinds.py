"""TTFT, TPOT and ITL split by reply kind, the parser's hold-back, and the client's pull delay.

A text reply and a tool-call reply are timed differently by nature (bench.agent.reply_timing):
a tool-call reply's TTFT includes the tokens the tool parser held back before the first
tool-call delta, and its TPOT is the mean gap between its deltas. Pooled in one percentile, the
headline TTFT p90 of an agent run is parser wait; so each kind has its own columns
(`ttft_text_p50_ms`, `ttft_tool_p50_ms`, ...), beside the combined ones, which keep meaning
both. Where only one kind occurs, its columns equal the combined ones.

- TTFT per kind: completed calls of that kind and incomplete ones that had their first token,
  with incomplete calls that had none at their age as lower bounds in both kinds (their kind is
  not known yet), as in the combined TTFT (bench.results.latency_bounds).
- TPOT per kind: completed calls of that kind.
- ITL (`itl_p*`, `itl_text_p*`, `itl_tool_p*`): every gap between token chunks of every
  completed streamed call, pooled, as `vllm bench serve` pools its ITLs.
- Parser hold-back (`tool_holdback_p*_ms`): completed tool-call replies.
- Pull delay (`pull_delay_p*_ms`): per completed call, the mean time its body chunks waited
  between their arrival and the agent taking them; `itl_batched_share`: the share of pooled ITL
  gaps that were 0 (token chunks read in one batch). Both judge the client's saturation
  (bench.results.client_summary).
"""

from __future__ import annotations

import json
from typing import Any

from bench.results.latency_bounds import percentiles_with_bounds
from bench.results.summary import percentiles
from bench.schemas.records import TEXT_REPLY, TOOL_CALL_REPLY

# reply kind -> the infix of its summary columns
KIND_COLUMNS = {TEXT_REPLY: "text", TOOL_CALL_REPLY: "tool"}
# `llm_calls_text`, `llm_calls_tool`: completed calls of each kind


def itl_gaps(call: dict[str, Any]) -> list[float]:
    """The call's gaps between token chunks (ms); a JSON list where read back from Parquet."""
    gaps = call.get("itl_gaps_ms")
    if isinstance(gaps, str):
        gaps = json.loads(gaps)
    return [float(g) for g in gaps] if isinstance(gaps, list) else []


def _pooled_gaps(calls: list[dict[str, Any]]) -> list[float]:
    return [gap for call in calls for gap in itl_gaps(call)]


def reply_kind_summary(
    ok_calls: list[dict[str, Any]], open_calls: list[dict[str, Any]]
) -> dict[str, Any]:
    """The summary columns above, over completed (`ok_calls`) and incomplete calls."""
    no_token_yet = [c.get("e2e_ms") for c in open_calls if c.get("ttft_ms") is None]
    row: dict[str, Any] = {}
    for kind, infix in KIND_COLUMNS.items():
        mine_ok = [c for c in ok_calls if c.get("reply_kind") == kind]
        started = [
            c for c in open_calls if c.get("reply_kind") == kind and c.get("ttft_ms") is not None
        ]
        row[f"llm_calls_{infix}"] = len(mine_ok)
        row.update(
            percentiles_with_bounds(
                [c.get("ttft_ms") for c in mine_ok + started if c.get("ttft_ms") is not None],
                no_token_yet,
                f"ttft_{infix}",
            )
        )
        row.update(percentiles([c.get("tpot_ms") for c in mine_ok], f"tpot_{infix}"))
        row.update(percentiles(_pooled_gaps(mine_ok), f"itl_{infix}"))
    gaps = _pooled_gaps(ok_calls)
    row.update(percentiles(gaps, "itl"))
    tool_calls = [c for c in ok_calls if c.get("reply_kind") == TOOL_CALL_REPLY]
    row.update(percentiles([c.get("tool_holdback_ms") for c in tool_calls], "tool_holdback"))
    row.update(percentiles([c.get("pull_delay_mean_ms") for c in ok_calls], "pull_delay"))
    row["itl_batched_share"] = sum(1 for g in gaps if g == 0.0) / len(gaps) if gaps else None
    return row
