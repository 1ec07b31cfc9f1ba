"""A run setting is declared once (a field with its `Setting`); everything else follows from it.

The generic half walks every declared setting: `bench run` has its option, the --config file
takes its key, a flag error names its flag. The other half follows one setting added by a
two-file change (`--max-tokens`: schemas/config.py and agent/session.py) from the command line
through the config file and the load spec to the bytes the server receives.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer

from bench.agent.session import build_agent_bundle, run_session
from bench.cli.app import app
from bench.cli.config_flags import RUN_FLAGS, flag_of, run_config_from_flags
from bench.evalset import load_evalset
from bench.load.spec import LoadSpec
from bench.schemas.config import (
    EngineFlags,
    JudgeConfig,
    LoadConfig,
    RunConfig,
    ServerConfig,
    UserSimulatorConfig,
)
from bench.schemas.errors import BenchError
from bench.schemas.setting import declared
from bench.testing.fake_server import running_fake_server

# Config model -> (its section in RunConfig, the prefix of its options)
MODELS = {
    RunConfig: (None, ""),
    ServerConfig: ("server", ""),
    EngineFlags: ("engine", ""),
    LoadConfig: ("load", ""),
    JudgeConfig: ("judge", "judge_"),
    UserSimulatorConfig: ("user_simulator", "user_simulator_"),
}


def _run_command():
    group = typer.main.get_command(app)
    ctx = group.make_context("bench", [], resilient_parsing=True)
    return group.get_command(ctx, "run")  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", list(MODELS), ids=lambda m: m.__name__)
def test_every_declared_setting_is_an_option_a_config_key_and_a_flag_in_errors(model) -> None:
    section, prefix = MODELS[model]
    options = {p.name: p for p in _run_command().params}
    settings = declared(model)
    assert settings, f"{model.__name__} declares no setting"
    for d in settings:
        name = d.option_name(prefix)
        assert name in options, f"bench run has no option for {model.__name__}.{d.field}"
        assert options[name].help, f"--{name}: no help"
        assert name in RUN_FLAGS, f"--config does not take {name}"
        assert flag_of(section, d.field) == "--" + name.replace("_", "-")


def test_a_field_without_a_setting_is_not_an_option() -> None:
    """Fields bench derives (processes_auto, the steps) are not for the user to set."""
    options = {p.name for p in _run_command().params}
    assert not {"processes_auto", "user_steps", "rate_steps", "warmup_sessions"} & options


def test_max_tokens_from_flag_file_and_error(tmp_path: Path) -> None:
    assert run_config_from_flags({"max_tokens": 64}).load.max_tokens == 64
    config = tmp_path / "run.toml"
    config.write_text("max-tokens = 32\n")
    assert run_config_from_flags({}, config_file=config).load.max_tokens == 32
    assert run_config_from_flags({"max_tokens": 8}, config_file=config,
                                 given={"max_tokens"}).load.max_tokens == 8  # fmt: skip
    with pytest.raises(BenchError, match=r"^--max-tokens: Input should be greater than 0$"):
        run_config_from_flags({"max_tokens": 0})


def test_max_tokens_travels_in_the_load_spec_and_reaches_the_server(tmp_path: Path) -> None:
    cfg = run_config_from_flags({"max_tokens": 5})
    spec = LoadSpec(run_id="r", run_dir=tmp_path, evalset="weather_time",
                    api_base="http://127.0.0.1:9/v1", served_model_name="fake", load=cfg.load)  # fmt: skip
    spec = LoadSpec.read(spec.write())  # what the load process reads
    assert spec.load == cfg.load

    evalset = load_evalset("weather_time")
    case = next(c for c in evalset.cases if c.eval_id == "weather_london")
    bodies = tmp_path / "bodies.jsonl"

    async def play(url: str, load: LoadConfig) -> list[dict]:
        start = len(bodies.read_text().splitlines()) if bodies.exists() else 0
        bundle = build_agent_bundle(evalset.agent_dir, api_base=url + "/v1",
                                    served_model_name="fake", run_id="r", eval_set_id="e",
                                    load=load)  # fmt: skip
        await run_session(bundle, case)
        await bundle.close()
        return [json.loads(line) for line in bodies.read_text().splitlines()[start:]]

    with running_fake_server(record_bodies=str(bodies)) as url:
        capped = asyncio.run(play(url, spec.load))
        free = asyncio.run(play(url, LoadConfig()))
    assert capped and free
    assert [b.get("max_tokens") for b in capped] == [5] * len(capped)
    assert all("max_tokens" not in b for b in free)
