"""`bench fake-server` / `python -m bench.testing.fake_server`: flags derived from the settings.

Each declared field of `FakeServerConfig` is one flag (see `bench.testing.fake_server.settings`);
a flag's value is checked alone as it is parsed, so a mistake is one line naming the flag, exit
code 2. `argv_for` goes the other way (settings -> flags) for `running_fake_server`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, NoReturn

from bench.schemas.setting import Declared, declared
from bench.testing.fake_server.app import serve
from bench.testing.fake_server.settings import FakeServerConfig, check_setting, flag_hints

DESCRIPTION = "An OpenAI-compatible fake of a vLLM server, for tests and for `bench fake-server`."
EPILOG = "example: python -m bench.testing.fake_server --port 8001 --api-key-env MY_KEY --itl-ms 5"
SETTINGS = {d.field: d for d in declared(FakeServerConfig)}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the flag, exit code 2 (no usage block)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def flag_of(name: str) -> str:
    """The flag of a setting: `--` and its name with dashes, `--no-` for a switch that is on by
    default."""
    setting = SETTINGS[name]
    dashed = setting.option_name().replace("_", "-")
    return f"--no-{dashed}" if setting.info.default is True else f"--{dashed}"


def _value_type(name: str) -> Callable[[str], Any]:
    """A parser for one flag's text: the setting's value checked alone (for a `Flag(env=...)`
    setting, the value of the environment variable named)."""
    env = flag_hints(name).env is not None

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


def _add(parser: argparse.ArgumentParser, setting: Declared) -> None:
    name, info = setting.field, setting.info
    common: dict[str, Any] = {"dest": name, "help": setting.setting.help,
                              "default": argparse.SUPPRESS}  # fmt: skip
    if info.annotation is bool:
        action = "store_false" if info.default is True else "store_true"
        parser.add_argument(flag_of(name), action=action, **common)
        return
    hints = flag_hints(name)
    parser.add_argument(flag_of(name), type=_value_type(name), nargs=hints.nargs,
                        metavar=hints.metavar, **common)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fake-server", description=DESCRIPTION, epilog=EPILOG)
    for setting in SETTINGS.values():
        _add(parser, setting)
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
        if name not in SETTINGS:
            raise TypeError(f"running_fake_server: unknown knob {name!r}")
        env_var = flag_hints(name).env
        if isinstance(value, bool):  # a switch: given when the value is not its default
            argv += [flag_of(name)] if value != SETTINGS[name].info.default else []
        elif env_var is not None and value is not None:
            env[env_var] = str(value)
            argv += [flag_of(name), env_var]
        elif value is not None:
            argv += [flag_of(name), str(value)]
    return argv, env


def main(argv: list[str] | None = None) -> int:
    serve(config_from_args(build_parser().parse_args(argv)))
    return 0
