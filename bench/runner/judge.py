"""ADK's LLM-as-judge metrics on every measured turn, while the server (maybe the judge) is up;
records go to raw/judge.main.jsonl for the table build."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from bench.schemas.config import JudgeConfig
from bench.schemas.manifest import update_manifest
from bench.schemas.raw import read_records
from bench.schemas.run_dir import RunDir
from bench.schemas.settings import JUDGE_API_BASE_ENV, JUDGE_API_KEY_ENV
from bench.server.process import Endpoint

JUDGE_WRITER = "main"


def run_judge(
    judge: JudgeConfig, criteria: dict[str, Any], endpoint: Endpoint, run_dirs: list[RunDir]
) -> None:
    from bench.scoring.judge import judge_turns  # heavy: ADK's evaluators

    if judge.endpoint:
        api_base = judge.endpoint.rstrip("/").removesuffix("/v1") + "/v1"
        key = os.environ.get(judge.api_key_env) if judge.api_key_env else None
    else:
        api_base, key = endpoint.api_base, endpoint.api_key
    # The judge's model client reads these (keys travel in the environment, never in files).
    os.environ[JUDGE_API_BASE_ENV] = api_base
    os.environ[JUDGE_API_KEY_ENV] = key or ""
    try:
        served = judge.model or endpoint.served_model_name
        for run_dir in run_dirs:
            turns = [t for t in read_records(run_dir.path, "turns")
                     if not t.get("warmup") and not t.get("error_type")]  # fmt: skip
            records = asyncio.run(
                judge_turns(turns, served_name=served, criteria=criteria, num_samples=judge.samples)
            )
            with run_dir.raw_file("judge", JUDGE_WRITER).open("a") as fh:
                for record in records:
                    fh.write(json.dumps(record) + "\n")
            update_manifest(run_dir, judge_model=served)
    finally:  # the key must not outlive the judge: later child processes would inherit it
        os.environ.pop(JUDGE_API_KEY_ENV, None)
        os.environ.pop(JUDGE_API_BASE_ENV, None)
