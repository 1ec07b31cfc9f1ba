"""A worker finds the user simulator's key under the variable the master's load spec names."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.load import distributed
from bench.load.spec import LoadSpec
from bench.schemas.config import UserSimulatorConfig
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
                    user_simulator=UserSimulatorConfig(endpoint="http://127.0.0.1:8",
                                                       api_key_env=key_env, max_turns=3))  # fmt: skip
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
    assert (
        spec.user_simulator.max_turns == 3
        and spec.user_simulator.api_base == "http://127.0.0.1:8/v1"
    )
    assert os.environ[NAME] == expected


def test_no_key_anywhere_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch, USER_SIMULATOR_API_KEY_ENV, NAME)
    with pytest.raises(RuntimeError, match=NAME):
        distributed.spec_from_master(_environment(NAME), tmp_path)


def test_no_key_named_needs_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch, USER_SIMULATOR_API_KEY_ENV)
    spec = distributed.spec_from_master(_environment(None), tmp_path)
    assert spec.user_simulator.api_key_env is None


def test_worker_without_the_key_quits_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import gevent

    _unset(monkeypatch, USER_SIMULATOR_API_KEY_ENV, NAME)
    environment = _environment(NAME)
    quits: list[bool] = []
    environment.runner = SimpleNamespace(quit=lambda: quits.append(True))
    environment.process_exit_code = None
    assert distributed.worker_spec(environment, tmp_path) is None
    gevent.sleep(0)
    assert quits == [True] and environment.process_exit_code == 2
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert NAME in record.getMessage() and "\n" not in record.getMessage()
