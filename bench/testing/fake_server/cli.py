"""`bench fake-server` / `python -m bench.testing.fake_server`: flags derived from the settings.

Each field of `FakeServerConfig` is one flag (see `bench.testing.fake_server.settings`); a flag's
value is checked alone as it is parsed, so a mistake is one line naming the flag, exit code 2.
`argv_for` goes the other way (settings -> flags) for `running_fake_server`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, NoReturn

from pydantic.fields import FieldInfo

from bench.testing.fake_server.app import serve
from bench.testing.fake_server.settings import FakeServerConfig, check_setting

DESCRIPTION = "An OpenAI-compatible fake of a vLLM server, for tests and for `bench fake-server`."
EPILOG = "example: python -m bench.testing.fake_server --port 8001 --api-key-env MY_KEY --itl-ms 5"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the flag, exit code 2 (no usage block)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def _hints(info: FieldInfo) -> dict[str, Any]:
    """A setting's command-line hints (`settings.flag`)."""
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def flag_of(name: str) -> str:
    """The flag of a setting: `--name` with dashes, what `flag=` says, or `--no-name` for a
    switch that is on by default."""
    info = FakeServerConfig.model_fields[name]
    if "flag" in _hints(info):
        return str(_hints(info)["flag"])
    dashed = name.replace("_", "-")
    return f"--no-{dashed}" if info.default is True else f"--{dashed}"


def _value_type(name: str) -> Callable[[str], Any]:
    """A parser for one flag's text: the setting's value checked alone (an `env` setting: the
    value of the environment variable named)."""
    env = "env" in _hints(FakeServerConfig.model_fields[name])

    def parse(text: str) -> Any:
        value = text
        if env:
            value = os.environ.get(text, "")
            if not value:
                raise argparse.ArgumentTypeError(f"environment variable {text} is not set")
        try:
            return check_setting(name, value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names a type in some errors
    return parse


def _add(parser: argparse.ArgumentParser, name: str, info: FieldInfo) -> None:
    flag, extra = flag_of(name), _hints(info)
    common: dict[str, Any] = {"dest": name, "help": info.description,
                              "default": argparse.SUPPRESS}  # fmt: skip
    if info.annotation is bool:
        action = "store_false" if info.default is True else "store_true"
        parser.add_argument(flag, action=action, **common)
        return
    metavar = extra.get("metavar") or ("VAR" if "env" in extra else None)
    parser.add_argument(flag, type=_value_type(name), nargs=extra.get("nargs"), metavar=metavar,
                        **common)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fake-server", description=DESCRIPTION, epilog=EPILOG)
    for name, info in FakeServerConfig.model_fields.items():
        _add(parser, name, info)
    return parser


def config_from_args(args: argparse.Namespace) -> FakeServerConfig:
    """The settings the flags gave; every other one keeps its default."""
    return FakeServerConfig(**vars(args))


def argv_for(settings: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Flags that give these settings, and the environment variables they name (a key never
    goes on a command line). TypeError names a setting that does not exist."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for name, value in settings.items():
        info = FakeServerConfig.model_fields.get(name)
        if info is None:
            raise TypeError(f"running_fake_server: unknown knob {name!r}")
        if isinstance(value, bool):  # a switch: given when the value is not its default
            argv += [flag_of(name)] if value != info.default else []
        elif "env" in _hints(info) and value is not None:
            env[_hints(info)["env"]] = str(value)
            argv += [flag_of(name), _hints(info)["env"]]
        elif value is not None:
            argv += [flag_of(name), str(value)]
    return argv, env


def main(argv: list[str] | None = None) -> int:
    serve(config_from_args(build_parser().parse_args(argv)))
    return 0
