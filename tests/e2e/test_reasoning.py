"""tiny-reasoning on a real vLLM (CPU) with the qwen3 reasoning parser and the hermes tool parser.

One server for the module. Truth comes from the script: each case's scripted thought, its
reasoning tokens as vLLM counts them (`bench.models.tiny.reasoning_tokens`) and its calls.
- each kind of reply, streamed and not, thinking on and off: the thought comes back as
  reasoning with its token count in usage, the calls and answers as tiny's; off, no reasoning;
- `bench sweep --thinking on,off` against the server: each point's calls carry the script's
  reasoning tokens (none when off), TTFO is TTFT when off and later than the first reasoning
  token when on, and tool accuracy is what the script implies (tiny's) at both points;
- served without its reasoning parser, the preflight stops the run and names the fix (its own
  server: the one thing here that needs another).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from bench.models.tiny import reasoning_tokens
from bench.models.tiny_script import TinyCase, case_by_name
from bench.models.tiny_variants import REASONING
from bench.schemas.errors import BenchError
from bench.server.environment import find_vllm_python
from bench.server.process import Endpoint
from tests.e2e.conftest import served
from tests.e2e.test_tiny_model import request_for
from tests.fixtures.tiny_walk import expected_turns, implied_exact, implied_rows

pytestmark = pytest.mark.e2e

NAME = REASONING.name


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with served(tmp_path_factory, NAME) as endpoint:
        yield endpoint


def _ask(client: httpx.Client, body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """reasoning, content, calls and usage of one reply, streamed or not."""
    if not stream:
        r = client.post("/v1/chat/completions", json=body)
        r.raise_for_status()
        data = r.json()
        message = data["choices"][0]["message"]
        calls = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                 for c in message.get("tool_calls") or []]  # fmt: skip
        return {"reasoning": message.get("reasoning") or "", "content": message.get("content"),
                "calls": calls, "usage": data["usage"]}  # fmt: skip
    reasoning, content, usage = "", "", None
    parts: dict[int, dict[str, str]] = {}
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: ") :])
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                reasoning += delta.get("reasoning") or ""
                content += delta.get("content") or ""
                for tc in delta.get("tool_calls") or []:
                    entry = parts.setdefault(tc["index"], {"name": "", "arguments": ""})
                    entry["name"] += (tc.get("function") or {}).get("name") or ""
                    entry["arguments"] += (tc.get("function") or {}).get("arguments") or ""
    calls = [(c["name"], json.loads(c["arguments"])) for _, c in sorted(parts.items())]
    return {"reasoning": reasoning, "content": content or None, "calls": calls, "usage": usage}


# One case of each kind of reply (a call, two calls, an answer after a tool, text with tools
# given, text without tools); the sweep below checks every call of weather_time's cases too.
KINDS = [case_by_name(n) for n in ("london_weather", "madrid_time_and_weather", "time_answer",
                                   "sydney_weather_no_call", "greeting")]  # fmt: skip


@pytest.mark.parametrize("case", KINDS, ids=lambda c: c.name)
def test_each_kind_of_reply_thinks_its_scripted_thought(endpoint: Endpoint, case: TinyCase) -> None:
    headers = endpoint.auth_headers()
    with httpx.Client(base_url=endpoint.base_url, headers=headers, timeout=120) as client:
        for stream in (False, True):
            for thinking in (True, False):
                body = {**request_for(case), "model": NAME, "temperature": 1.0,
                        "chat_template_kwargs": {"enable_thinking": thinking}}  # fmt: skip
                reply = _ask(client, body, stream)
                details = reply["usage"]["completion_tokens_details"]
                where = (case.name, "stream" if stream else "whole", thinking)
                if thinking:
                    assert reply["reasoning"] == f"\n{case.thought}\n", where
                    assert details["reasoning_tokens"] == reasoning_tokens(case, REASONING), where
                else:
                    assert reply["reasoning"] == "" and details["reasoning_tokens"] == 0, where
                assert reply["calls"] == [(c.name, c.arguments) for c in case.calls], where
                # tiny's answer; after a thought it starts with the "\n\n" after </think>
                answer = (reply["content"] or "").removeprefix("\n\n" if thinking else "")
                assert answer == (case.content or ""), where


def _bench(*args: str, endpoint: Endpoint, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args, "--endpoint", endpoint.base_url,
         "--api-key-env", "REASONING_KEY", "--model", NAME, "--reasoning-parser", "qwen3"],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "REASONING_KEY": endpoint.api_key or ""},
    )  # fmt: skip


def test_thinking_on_off_sweep(endpoint: Endpoint, tmp_path: Path) -> None:
    proc = _bench("sweep", "--evalset", "weather_time", "--thinking", "on,off", "--users", "1",
                  "--step-duration", "6s", "--results-dir", str(tmp_path), "--sweep-id", "s",
                  endpoint=endpoint)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout.split("sweep s", 1)[1]  # the printed table: a row per thinking value
    assert "thinking" in table and "│ on " in table and "│ off " in table, table
    rows = {r["thinking"]: r for r in pq.read_table(tmp_path / "s" / "sweep_summary.parquet")
            .to_pylist()}  # fmt: skip
    assert set(rows) == {"on", "off"}
    texts = {key: text for key, text, _ in expected_turns("weather_time")}
    implied = implied_exact("weather_time")
    for thinking, row in rows.items():
        point = tmp_path / "s" / row["point_dir"]
        calls = pq.read_table(point / "llm_calls.parquet").to_pandas()
        turns = pq.read_table(point / "turns.parquet").to_pandas()
        calls, turns = calls[~calls["warmup"]], turns[~turns["warmup"]]
        assert len(turns) >= 4 and (calls["error_type"].isna()).all(), thinking
        # each call's reasoning tokens: the script's thought of the row answering it
        rows_of = {t.turn_id: implied_rows(texts[(t.case_id, t.invocation_index)])
                   for t in turns.itertuples()}  # fmt: skip
        truth = [reasoning_tokens(rows_of[c.turn_id][c.call_index], REASONING)
                 if thinking == "on" else 0 for c in calls.itertuples()]  # fmt: skip
        assert list(calls["reasoning_tokens"]) == truth, thinking
        assert (calls["reasoning_tokens_from"] == "usage").all()
        if thinking == "on":
            assert (calls["ttfo_ms"] >= calls["ttfr_ms"]).all() and (
                calls["ttft_ms"] == calls["ttfr_ms"]
            ).all()
            assert row["reasoning_tokens_per_turn"] == pytest.approx(
                turns["reasoning_tokens"].mean()) and row["reasoning_tokens_per_turn"] > 5  # fmt: skip
            assert 0 < row["thinking_share"] < 1
        else:
            assert calls["ttfr_ms"].isna().all() and (calls["ttfo_ms"] == calls["ttft_ms"]).all()
            assert (calls["thinking_ms"] == 0).all() and row["thinking_share"] == 0
        # tool accuracy is the script's (tiny's), thinking or not
        expected = [implied[(t.case_id, t.invocation_index)] for t in turns.itertuples()]
        assert row["tool_trajectory_exact"] == pytest.approx(sum(expected) / len(expected))
    assert rows["on"]["ttfo_p50_ms"] > rows["on"]["ttft_p50_ms"]  # the first output waits


def test_served_without_its_parser_stops_in_the_preflight(tmp_path: Path) -> None:
    try:
        find_vllm_python()
    except BenchError as exc:
        pytest.skip(str(exc))
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--model", NAME, "--reasoning-parser", "none",
         "--evalset", "weather_time", "--sessions", "20", "--results-dir", str(tmp_path),
         "--run-id", "no-parser"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    error = proc.stderr.strip().splitlines()[-1]
    assert "thinking comes back as answer text (<think>...</think> in the reply)" in error, error
    assert "reasoning parser (none)" in error and "--reasoning-parser NAME" in error
    assert "qwen3 (Qwen3)" in error and "<think>\\nThe user asks" in error  # the excerpt
    manifest = json.loads((tmp_path / "no-parser" / "manifest.json").read_text())
    assert manifest["status"] == "preflight_failed"
    assert not (tmp_path / "no-parser" / "raw" / "sessions.jsonl").exists()  # no load ran
