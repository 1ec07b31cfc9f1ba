"""The judge's API key leaves os.environ once the judge is done, even when it fails (issue 17)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bench.config import JudgeConfig, RunConfig
from bench.pipeline import run_judge

from bench.scoring.judge import JUDGE_API_BASE_ENV, JUDGE_API_KEY_ENV
from bench.server.process import Endpoint

SECRET = "sk-judge-planted-4f9a1c"


def _cfg() -> RunConfig:
    return RunConfig(judge=JudgeConfig(endpoint="http://127.0.0.1:9/v1", api_key_env="MY_JUDGE"))


def test_key_removed_after_the_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE", SECRET)
    (tmp_path / "raw").mkdir()
    (tmp_path / "manifest.json").write_text("{}")
    run_judge(_cfg(), {}, Endpoint("http://127.0.0.1:9", "m"), [tmp_path])
    assert (tmp_path / "raw" / "judge.main.jsonl").exists()  # the judge did run
    assert "judge_model" in (tmp_path / "manifest.json").read_text()
    assert JUDGE_API_KEY_ENV not in os.environ and JUDGE_API_BASE_ENV not in os.environ
    assert SECRET not in "".join(v for k, v in os.environ.items() if k != "MY_JUDGE")


def test_key_removed_when_the_judge_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE", SECRET)
    with pytest.raises(OSError):  # no raw/ folder to write to
        run_judge(_cfg(), {}, Endpoint("http://127.0.0.1:9", "m"), [tmp_path / "missing"])
    assert JUDGE_API_KEY_ENV not in os.environ
