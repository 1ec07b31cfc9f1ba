"""Every fake-server setting is declared once (`FakeServerConfig`) and is a flag with help that
round-trips: setting -> flags (`argv_for`, as `running_fake_server` starts the child) -> parser ->
config field. A setting added without a working flag fails here."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from bench.testing.fake_server import FakeServerConfig, build_parser, config_from_args
from bench.testing.fake_server.cli import argv_for, flag_of

SAMPLE_OF_TYPE: dict[type, Any] = {int: 3, float: 0.5, str: "out.jsonl"}
SAMPLE = {  # settings whose values are checked beyond their type
    "host": "127.0.0.2",
    "served_model_name": "alpha beta",
    "fault": "length,empty",
    "api_key": "sk-round-trip",
}
SETTINGS = list(FakeServerConfig.model_fields)


def sample(name: str) -> Any:
    """A valid value of the setting that is not its default."""
    info = FakeServerConfig.model_fields[name]
    if info.annotation is bool:
        return not info.default
    kinds = [k for k in typing.get_args(info.annotation) or [info.annotation] if k is not None]
    return SAMPLE.get(name, SAMPLE_OF_TYPE[next(k for k in kinds if k in SAMPLE_OF_TYPE)])


def test_every_setting_is_a_flag_with_help() -> None:
    actions = {a.dest: a for a in build_parser()._actions if a.dest != "help"}
    assert set(actions) == set(SETTINGS)
    for name in SETTINGS:
        assert actions[name].option_strings == [flag_of(name)], name
        assert (actions[name].help or "").strip(), f"{flag_of(name)} has no help"


@pytest.mark.parametrize("name", SETTINGS)
def test_each_setting_round_trips_through_its_flag(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = sample(name)
    assert value != FakeServerConfig.model_fields[name].default
    argv, env = argv_for({name: value})
    for var, text in env.items():
        monkeypatch.setenv(var, text)
    assert name != "api_key" or (value not in argv and list(env.values()) == [value])
    config = config_from_args(build_parser().parse_args(argv))
    assert getattr(config, name) == value
    assert config == FakeServerConfig(**{name: value})  # and nothing else moved


def test_no_flags_give_the_declared_defaults_and_unknown_knobs_are_refused() -> None:
    assert config_from_args(build_parser().parse_args([])) == FakeServerConfig()
    with pytest.raises(TypeError, match="unknown knob 'latency'"):
        argv_for({"latency": 5})


def test_the_key_is_never_shown() -> None:
    assert "sk-round-trip" not in repr(FakeServerConfig(api_key="sk-round-trip"))
