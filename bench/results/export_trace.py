"""A run's LLM calls as a trace that other benchmarks replay (`bench export-trace`).

Reads the raw `prompts` and `tools` records (bench.agent.prompt_capture) of a run folder and its
load steps. Exported: every measured call that finished (warm-up calls and calls without a
completion-token count, i.e. failed ones, are left out), in start order, timestamps in ms from
the first exported call.

Formats (docs/results.md, "Trace export", links their specs):
- `vllm-custom`: `vllm bench serve --dataset-name custom`: `prompt` (the conversation rendered
  as text, see `render_text`) and `output_tokens`; also `messages` and `tools`, which vLLM
  ignores. vLLM 0.3x's CustomDataset reads only `prompt` and `output_tokens`, and sends the
  prompt as one user message (openai-chat backend), so the replay keeps the prompt text and the
  output length, not the message structure or the timing.
- `mooncake`: the Mooncake FAST'25 trace (AIPerf's `mooncake_trace`): `timestamp`,
  `input_length`, `output_length`, `hash_ids`.
- `chat-jsonl`: ours, the whole call: timestamp, session, turn, messages, tools, token counts.

Mooncake's `hash_ids` name the prompt's KV-cache blocks (`block_size` tokens each, 512 by
default) by a hash of the block and every block before it, so calls sharing a prefix share their
first ids. Without the model's tokenizer (none is at hand offline for an arbitrary model), the
blocks are cut from the rendered text: the run's own characters per prompt token
(sum of rendered characters / sum of usage prompt tokens) gives the characters of one block.
The rendering of a later call of a session starts with the rendering of the earlier one, so the
shared prefix of the agent's conversation shows as shared ids. `input_length` is the server's
prompt token count, and the number of ids is ceil(input_length / block_size): missing ids at
the end are fresh ones.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.schemas.errors import BenchError
from bench.schemas.raw import PROMPTS, TOOLS, as_run_dir, read_jsonl
from bench.schemas.run_dir import RunDir

FORMATS = ("vllm-custom", "mooncake", "chat-jsonl")
DEFAULT_BLOCK_SIZE = 512  # Mooncake's block size (the paper, AIPerf's default)


@dataclass
class TraceCall:
    timestamp_ms: float  # since the first exported call
    session_id: str | None
    turn_id: str | None
    call_index: int | None
    agent_name: str | None
    messages: list[Any]
    tools: list[Any] | None
    tool_choice: Any
    input_tokens: int | None
    output_tokens: int


@dataclass
class Trace:
    calls: list[TraceCall]
    left_out: int  # warm-up, failed or without a token count


def _raw_files(run: RunDir, table: str) -> list[Path]:
    return [p for d in [run, *run.steps()] for p in d.raw_files(table)]


def load_trace(run_dir: RunDir | Path | str) -> Trace:
    run = as_run_dir(run_dir)
    if not run.path.is_dir():
        raise BenchError(f"RUN: {run.path} is not a folder")
    prompt_files = _raw_files(run, PROMPTS)
    if not prompt_files:
        raise BenchError(
            f"RUN: {run.path} has no raw {PROMPTS} records (not a run folder, or recorded by a "
            "bench that did not keep request messages)"
        )
    tools = {r["tools_sha"]: r["tools"] for r in read_jsonl(_raw_files(run, TOOLS)).records}
    records = read_jsonl(prompt_files).records
    kept, left_out = [], 0
    for r in records:
        if r.get("warmup") or r.get("error_type") or not r.get("completion_tokens"):
            left_out += 1
            continue
        kept.append(r)
    kept.sort(key=lambda r: float(r["started_at"]))
    t0 = float(kept[0]["started_at"]) if kept else 0.0
    calls = [
        TraceCall(
            timestamp_ms=round((float(r["started_at"]) - t0) * 1000.0, 3),
            session_id=r.get("session_id"),
            turn_id=r.get("turn_id"),
            call_index=r.get("call_index"),
            agent_name=r.get("agent_name"),
            messages=r.get("messages") or [],
            tools=tools.get(r["tools_sha"]) if r.get("tools_sha") else None,
            tool_choice=r.get("tool_choice"),
            input_tokens=r.get("prompt_tokens"),
            output_tokens=int(r["completion_tokens"]),
        )
        for r in kept
    ]
    return Trace(calls, left_out)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: their text
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return json.dumps(content, sort_keys=True)


def render_text(messages: list[Any], tools: list[Any] | None) -> str:
    """The conversation as plain text: the tools, then one block per message in order, so a
    later call's text starts with an earlier call's when its messages extend them."""
    parts = []
    if tools:
        parts.append("tools: " + json.dumps(tools, sort_keys=True, separators=(",", ":")) + "\n")
    for m in messages:
        role = m.get("role", "user") if isinstance(m, dict) else "user"
        block = f"{role}: {_content_text(m.get('content') if isinstance(m, dict) else m)}"
        calls = m.get("tool_calls") if isinstance(m, dict) else None
        if calls:
            for call in calls:
                fn = call.get("function", {}) if isinstance(call, dict) else {}
                block += f"\ntool call {fn.get('name')}: {fn.get('arguments')}"
        parts.append(block + "\n")
    return "".join(parts)


class BlockHasher:
    """Mooncake hash ids: consecutive integers, one per distinct (prefix, block)."""

    def __init__(self, block_chars: int):
        self.block_chars = max(1, block_chars)
        self._ids: dict[str, int] = {}

    def _id(self, key: str) -> int:
        if key not in self._ids:
            self._ids[key] = len(self._ids)
        return self._ids[key]

    def hash_ids(self, text: str, n_blocks: int) -> list[int]:
        ids, prev = [], ""
        for i in range(n_blocks):
            block = text[i * self.block_chars : (i + 1) * self.block_chars]
            if not block:  # the text ran out before the token count: fresh ids
                prev = hashlib.sha256(f"{prev}|fresh|{len(self._ids)}".encode()).hexdigest()
            else:
                prev = hashlib.sha256(f"{prev}|{block}".encode()).hexdigest()
            ids.append(self._id(prev))
        return ids


def _block_chars(texts: list[str], calls: list[TraceCall], block_size: int) -> int:
    chars = sum(len(t) for t, c in zip(texts, calls, strict=True) if c.input_tokens)
    tokens = sum(c.input_tokens or 0 for c in calls)
    per_token = chars / tokens if tokens else 4.0  # ~4 characters per token without counts
    return max(1, round(per_token * block_size))


def lines(trace: Trace, fmt: str, *, block_size: int = DEFAULT_BLOCK_SIZE) -> Iterator[dict]:
    """One JSON object per exported call, in the format's fields."""
    if fmt not in FORMATS:
        raise BenchError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if block_size < 1:
        raise BenchError("--block-size must be at least 1")
    calls = trace.calls
    texts = [render_text(c.messages, c.tools) for c in calls]
    if fmt == "vllm-custom":
        for c, text in zip(calls, texts, strict=True):
            yield {
                "prompt": text,
                "output_tokens": c.output_tokens,
                "messages": c.messages,
                "tools": c.tools,
            }
    elif fmt == "mooncake":
        hasher = BlockHasher(_block_chars(texts, calls, block_size))
        for c, text in zip(calls, texts, strict=True):
            input_length = c.input_tokens or math.ceil(len(text) / 4)
            yield {
                "timestamp": int(round(c.timestamp_ms)),
                "input_length": input_length,
                "output_length": c.output_tokens,
                "hash_ids": hasher.hash_ids(text, math.ceil(input_length / block_size)),
            }
    else:
        for c in calls:
            yield {
                "timestamp": c.timestamp_ms,
                "session_id": c.session_id,
                "turn_id": c.turn_id,
                "call_index": c.call_index,
                "agent_name": c.agent_name,
                "messages": c.messages,
                "tools": c.tools,
                "tool_choice": c.tool_choice,
                "input_tokens": c.input_tokens,
                "output_tokens": c.output_tokens,
            }


def export_trace(
    run_dir: RunDir | Path | str,
    fmt: str,
    out: Path | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[Path, int, int]:
    """Write the trace; returns (file, calls written, calls left out)."""
    run = as_run_dir(run_dir)
    if fmt not in FORMATS:
        raise BenchError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    target = out or run.trace(fmt)
    jsonl = run.trace(fmt).suffix  # vLLM's CustomDataset reads only this suffix
    if fmt == "vllm-custom" and target.suffix != jsonl:
        raise BenchError(f"-o: {target}: vllm bench serve reads a custom dataset only from {jsonl}")
    trace = load_trace(run)
    rows = list(lines(trace, fmt, block_size=block_size))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, separators=(",", ":")) + "\n")
    except OSError as exc:
        raise BenchError(f"-o: cannot write {target}: {exc.strerror or exc}") from exc
    return target, len(rows), trace.left_out
