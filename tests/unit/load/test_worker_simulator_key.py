"""A worker finds the user simulator's key under the variable the master's load spec names."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.load import distributed
from bench.load.spec import LoadSpec
from bench.schemas.settings import USER_SIMULATOR_API_KEY_ENV

NAME = "MASTER_SIM_KEY_VAR"


def _unset(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Unset, and restored after the test (spec_from_master sets the master's variable)."""
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def _environment(key_env: str | None, shipped: str | None = None) -> SimpleNamespace:
    spec = LoadSpec(run_id="r", run_dir=Path("/nonexistent"), evalset="weather_time_scenario",
                    api_base="http://127.0.0.1:9/v1", served_model_name="fake",
                    user_simulator_api_base="http://127.0.0.1:8/v1", user_simulator_api_key_env=key_env,
                    max_turns=3)  # fmt: skip
    options = SimpleNamespace(**{distributed.SPEC_OPTION: spec.model_dump_json()})
    if shipped:
        setattr(options, distributed.SIMULATOR_KEY_OPTION, shipped)
    return SimpleNamespace(parsed_options=options)


@pytest.mark.parametrize(
    ("worker_flag", "own", "shipped", "expected"),
    [
        ("from-flag", "own", "shipped", "from-flag"),  # `bench worker --user-simulator-api-key-env`
        (None, "own", "shipped", "own"),  # this host's variable of the master's name
        (None, None, "shipped", "shipped"),  # a loopback master's
    ],
)  # fmt: skip
def test_key_precedence(
    worker_flag: str | None, own: str | None, shipped: str | None, expected: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _unset(monkeypatch, USER_SIMULATOR_API_KEY_ENV, NAME)
    for name, value in ((USER_SIMULATOR_API_KEY_ENV, worker_flag), (NAME, own)):
        if value:
            monkeypatch.setenv(name, value)
    spec = distributed.spec_from_master(_environment(NAME, shipped), tmp_path)
    assert spec.max_turns == 3 and spec.user_simulator_api_base == "http://127.0.0.1:8/v1"
    assert os.environ[NAME] == expected


def test_no_key_anywhere_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch, USER_SIMULATOR_API_KEY_ENV, NAME)
    with pytest.raises(RuntimeError, match=NAME):
        distributed.spec_from_master(_environment(NAME), tmp_path)


def test_no_key_named_needs_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch, USER_SIMULATOR_API_KEY_ENV)
    spec = distributed.spec_from_master(_environment(None), tmp_path)
    assert spec.user_simulator_api_key_env is None
