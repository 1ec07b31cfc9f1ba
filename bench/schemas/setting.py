"""A run setting is declared once, on its config model's field: type, default and validation are
the field's; the option's help (and, when it differs, its name) is a `Setting` in the field's
`Annotated` metadata:

    think_time_s: Annotated[SecondsOrZero, Setting("Pause between a session's turns, e.g. 2s.",
                                                   name="think_time")] = 0.0

From that one declaration `bench.cli.options` builds the command-line option, `bench.cli.config_flags`
maps the flag and the `--config` file key onto the field, the load spec carries the whole
`LoadConfig`, and `config.resolved.toml` / the manifest dump the model. A field without a
`Setting` is internal (derived by bench, never given by the user).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class Setting:
    help: str
    # The option's name with underscores when it is not the field's (`duration` for
    # `duration_s`); the flag is `--` + it with dashes, the --config key is it.
    name: str | None = None
    panel: str | None = None  # `--help` panel when not its section's
    # What the command line takes when it is not the field's type: text the model parses
    # ("90s", "1,4,16", "0,1").
    cli_type: Any = None
    decls: tuple[str, ...] = ()  # extra declarations: "-m", "--stream/--no-stream"
    # The command line's default when it differs from the field's: `--processes auto` sizes the
    # load processes; a config built without the CLI keeps the field's fixed default.
    cli_default: Any = None
    default_text: str | None = None  # the default as `--help` shows it, when not the field's


@dataclass(frozen=True)
class Declared:
    """One user-facing setting of a config model: its field and its option."""

    field: str
    info: FieldInfo
    setting: Setting

    def option_name(self, prefix: str = "") -> str:
        return self.setting.name or prefix + self.field


def declared(model: type[BaseModel]) -> list[Declared]:
    """The fields of `model` that are user settings, in declaration order."""
    found = []
    for name, info in model.model_fields.items():
        setting = next((m for m in info.metadata if isinstance(m, Setting)), None)
        if setting is not None:
            found.append(Declared(name, info, setting))
    return found
