"""The judge's API key leaves os.environ once the judge is done, even when it fails (issue 17)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.runner.judge import run_judge
from bench.schemas.config import JudgeConfig
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.settings import JUDGE_API_BASE_ENV, JUDGE_API_KEY_ENV
from bench.server.process import Endpoint

SECRET = "sk-judge-planted-4f9a1c"


def _judge() -> JudgeConfig:
    return JudgeConfig(endpoint="http://127.0.0.1:9/v1", api_key_env="MY_JUDGE")


def test_key_removed_after_the_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE", SECRET)
    run_dir = RunDir(tmp_path)
    run_dir.raw.mkdir()
    write_manifest(run_dir, Manifest(run_id="r"))
    run_judge(_judge(), {}, Endpoint("http://127.0.0.1:9", "m"), [run_dir])
    assert run_dir.raw_file("judge", "main").exists()  # the judge did run
    assert "judge_model" in run_dir.manifest.read_text()
    assert JUDGE_API_KEY_ENV not in os.environ and JUDGE_API_BASE_ENV not in os.environ
    assert SECRET not in "".join(v for k, v in os.environ.items() if k != "MY_JUDGE")


def test_key_removed_when_the_judge_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE", SECRET)
    with pytest.raises(OSError):  # no raw/ folder to write to
        run_judge(_judge(), {}, Endpoint("http://127.0.0.1:9", "m"), [RunDir(tmp_path / "missing")])
    assert JUDGE_API_KEY_ENV not in os.environ
