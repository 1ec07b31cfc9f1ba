"""Planted secrets reach no file, log or console (issue 17), against the fake server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.testing.fake_server import running_fake_server

PLANTED = "PlantedPw-7d41e9"


def bench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True, text=True, timeout=timeout, env=dict(os.environ),
    )  # fmt: skip


def assert_nowhere(secret: str, folder: Path, *texts: str) -> None:
    for text in texts:
        assert secret not in text
    for path in folder.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_url_password_is_redacted_everywhere(tmp_path: Path):
    with running_fake_server() as url:
        with_password = url.replace("http://", f"http://bob:{PLANTED}@")
        proc = bench("run", "--endpoint", with_password, "--model", "fake", "--sessions", "2",
                     "--users", "1", "--results-dir", str(tmp_path), "--run-id", "r")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_nowhere(PLANTED, tmp_path, proc.stdout, proc.stderr)
    assert "bob:***@" in (tmp_path / "r" / "config.resolved.toml").read_text()
    assert (tmp_path / "r" / "llm_calls.parquet").exists()


@pytest.mark.bad_input
def test_url_password_not_echoed_by_an_attach_error(tmp_path: Path):
    proc = bench("run", "--endpoint", f"http://bob:{PLANTED}@127.0.0.1:9/v1", "--model", "fake",
                 "--results-dir", str(tmp_path))  # fmt: skip
    assert proc.returncode == 2 and "not reachable" in proc.stderr, proc.stderr
    assert_nowhere(PLANTED, tmp_path, proc.stdout, proc.stderr)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "flags",
    [
        ["run", "--engine-arg", f"api-key={PLANTED}"],
        ["serve", "--", "--api-key", PLANTED],
        ["serve", "--", f"--api-key={PLANTED}"],
    ],
)
def test_api_key_engine_flag_is_refused(tmp_path: Path, flags: list[str]):
    proc = bench(*flags, "--results-dir", str(tmp_path)) if flags[0] == "run" else bench(*flags)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--api-key" in lines[0] and "per-run key" in lines[0], proc.stderr
    assert_nowhere(PLANTED, tmp_path, proc.stdout, proc.stderr)
