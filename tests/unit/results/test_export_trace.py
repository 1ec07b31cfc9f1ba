"""`bench export-trace`: each format from raw prompt records written here, with known timing,
token counts and shared prefixes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.agent.prompt_capture import PromptSink, tools_sha
from bench.schemas.errors import BenchError
from bench.results.export_trace import export_trace, load_trace, render_text
from bench.schemas.run_dir import RunDir

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
SYSTEM = {"role": "system", "content": "You answer weather questions. " * 40}
ASK = {"role": "user", "content": "Weather in Paris?"}
CALL = {
    "role": "assistant",
    "tool_calls": [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ],
}
RESULT = {"role": "tool", "tool_call_id": "c1", "content": "sunny"}


def _call(session: str, index: int, at: float, prompt: int, completion: int | None, **kw):
    record = {
        "run_id": "r", "session_id": session, "turn_id": f"{session}:0", "call_index": index,
        "agent_name": "weather", "started_at": at, "prompt_tokens": prompt,
        "completion_tokens": completion, "error_type": None, "warmup": False, "pid": 1,
    }  # fmt: skip
    record.update(kw)
    return record


class _Req:
    def __init__(self, messages, tools=TOOLS, tool_choice=None):
        from bench.agent.prompt_capture import CapturedRequest

        self.r = CapturedRequest(messages=messages, tools=tools, tool_choice=tool_choice)


def _write_run(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.raw.mkdir(parents=True)
    files: dict[str, list[str]] = {}

    def write(table: str, record: object) -> None:
        files.setdefault(table, []).append(json.dumps(record))

    sink = PromptSink(write)
    t0 = 1_000.0
    sink(_call("w", 0, t0 - 5, 100, 5, warmup=True), _Req([SYSTEM, ASK]).r)  # warm-up: left out
    sink(_call("a", 0, t0, 300, 7), _Req([SYSTEM, ASK]).r)
    sink(_call("b", 0, t0 + 0.25, 301, 6), _Req([SYSTEM, ASK]).r)
    sink(_call("a", 1, t0 + 0.5, 340, 9), _Req([SYSTEM, ASK, CALL, RESULT]).r)
    sink(_call("b", 1, t0 + 0.75, 10, None, error_type="Timeout"), _Req([SYSTEM]).r)  # failed
    for table, lines in files.items():
        run.raw_file(table, 1).write_text("\n".join(lines) + "\n")
    return run


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_tools_are_written_once_per_process_and_prompts_name_them(tmp_path: Path) -> None:
    run = _write_run(tmp_path)
    tools = _read(run.raw_file("tools", 1))
    assert tools == [{"tools_sha": tools_sha(TOOLS), "tools": TOOLS}]
    prompts = _read(run.raw_file("prompts", 1))
    assert len(prompts) == 5 and {p["tools_sha"] for p in prompts} == {tools_sha(TOOLS)}


def test_trace_leaves_out_warmup_and_failed_calls_and_times_from_the_first(tmp_path) -> None:
    trace = load_trace(_write_run(tmp_path))
    assert trace.left_out == 2
    assert [c.timestamp_ms for c in trace.calls] == [0.0, 250.0, 500.0]
    assert [(c.session_id, c.call_index) for c in trace.calls] == [("a", 0), ("b", 0), ("a", 1)]


def test_vllm_custom_has_prompt_and_output_tokens(tmp_path: Path) -> None:
    path, written, left_out = export_trace(_write_run(tmp_path), "vllm-custom")
    rows = _read(path)
    assert path.name == "trace-vllm-custom.jsonl" and (written, left_out) == (3, 2)
    assert [r["output_tokens"] for r in rows] == [7, 6, 9]
    assert rows[2]["messages"] == [SYSTEM, ASK, CALL, RESULT] and rows[2]["tools"] == TOOLS
    assert rows[2]["prompt"] == render_text([SYSTEM, ASK, CALL, RESULT], TOOLS)
    assert "Weather in Paris?" in rows[0]["prompt"] and '{"city": "Paris"}' in rows[2]["prompt"]


def test_mooncake_lengths_timestamps_and_shared_prefix_blocks(tmp_path: Path) -> None:
    block = 64
    path, _, _ = export_trace(_write_run(tmp_path), "mooncake", block_size=block)
    rows = _read(path)
    assert [set(r) for r in rows] == [
        {"timestamp", "input_length", "output_length", "hash_ids"}
    ] * 3
    assert [r["timestamp"] for r in rows] == [0, 250, 500]
    assert [r["input_length"] for r in rows] == [300, 301, 340]
    assert [r["output_length"] for r in rows] == [7, 6, 9]
    assert [len(r["hash_ids"]) for r in rows] == [math.ceil(n / block) for n in (300, 301, 340)]
    a0, b0, a1 = (r["hash_ids"] for r in rows)
    # the same tools and system prompt open every call: its full blocks share their ids ...
    assert a0[:3] == b0[:3] == a1[:3]
    # ... and the second call of session a extends the first one's prompt, so it repeats every
    # full block of it; a block never seen before gets a new, larger id
    assert a1[: len(a0) - 1] == a0[:-1]
    assert max(a1) > max(a0 + b0)


def test_chat_jsonl_keeps_the_whole_call(tmp_path: Path) -> None:
    path, _, _ = export_trace(_write_run(tmp_path), "chat-jsonl", tmp_path / "out" / "t.jsonl")
    rows = _read(path)
    assert path == tmp_path / "out" / "t.jsonl"
    assert rows[2] == {
        "timestamp": 500.0, "session_id": "a", "turn_id": "a:0", "call_index": 1,
        "agent_name": "weather", "messages": [SYSTEM, ASK, CALL, RESULT], "tools": TOOLS,
        "tool_choice": None, "input_tokens": 340, "output_tokens": 9,
    }  # fmt: skip


def test_bad_input_is_a_bench_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="RUN: .* is not a folder"):
        export_trace(tmp_path / "missing", "mooncake")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no raw prompts records"):
        export_trace(tmp_path / "empty", "mooncake")
    with pytest.raises(BenchError, match="--format: 'csv'"):
        export_trace(_write_run(tmp_path), "csv")
    with pytest.raises(BenchError, match="-o: .*only from .jsonl"):
        export_trace(tmp_path / "run", "vllm-custom", tmp_path / "x.json")
