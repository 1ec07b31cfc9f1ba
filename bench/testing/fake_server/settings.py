"""The fake server's settings, each declared once, as run settings are (bench.schemas.setting):
a field whose type, default and bounds are the model's and whose help is its `Setting`.

Every field is one flag of `bench fake-server` (`cli.build_parser`): `--` and the name with
dashes (the `Setting`'s name when it has one); a bool is a switch, `--name` when it is off by
default and `--no-name` (whose help the `Setting` is) when on. A `Flag` adds what only the
command line needs. A flag's value is checked against the field as it is parsed;
`running_fake_server(**knobs)` takes the field names. Adding a setting is one field here, plus
its use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.schemas.setting import Setting as S
from bench.schemas.settings import FAKE_SERVER_KEY_ENV
from bench.testing.fake_server.faults import FAULTS, parse_faults

DEFAULT_SERVED_NAME = "fake"


@dataclass(frozen=True)
class Flag:
    """How a setting looks on the command line beyond its name and help."""

    metavar: str | None = None
    nargs: str | None = None  # "+": one flag takes several words (a list, joined by the field)
    # The flag names an environment variable holding the value (a key never goes on a command
    # line); `running_fake_server` passes the value in this variable.
    env: str | None = None


FILE = Flag(metavar="FILE")
Seconds = Annotated[float, Field(ge=0)]
Ms = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class FakeServerConfig(BaseModel):
    """What the fake server answers, how fast, and which requests fail."""

    model_config = ConfigDict(extra="forbid")

    host: Annotated[str, S("address to listen on")] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535), S("0 = a free port (printed)")] = 8000
    served_model_name: Annotated[str, Flag(nargs="+"), S(
        "names listed on /v1/models; any other model name gets 404, as from vLLM"
    )] = DEFAULT_SERVED_NAME  # fmt: skip
    api_key: Annotated[str | None, Field(repr=False), Flag(metavar="VAR", env=FAKE_SERVER_KEY_ENV),
                       S("env var holding the API key to require", name="api_key_env")] = None  # fmt: skip
    latency_ms: Annotated[Ms, S("added to every request")] = 0.0
    latency_per_inflight_ms: Annotated[Ms, S(
        "added per request in flight (this one included): latency grows with load"
    )] = 0.0  # fmt: skip
    ttft_ms: Annotated[Ms, S("time to the first token")] = 0.0
    itl_ms: Annotated[Ms, S("time between tokens")] = 0.0
    tokens: Annotated[int | None, Field(ge=1), S("tokens per reply (default: natural)")] = None
    tool_name_tokens: Annotated[Count, S(
        "tool-call replies: tokens generated before the first streamed tool-call delta (vLLM's "
        "tool parsers stream nothing until they know the name)"
    )] = 0  # fmt: skip
    reasoning_tokens: Annotated[Count, S(
        "a thinking model: reasoning deltas before each reply, itl-ms apart, reported in "
        "usage.completion_tokens_details (none when the request sets enable_thinking false)"
    )] = 0  # fmt: skip
    fail_rate: Annotated[float, Field(ge=0, le=1), S("fraction of requests that fail")] = 0.0
    fault: Annotated[str, S(
        f"what a failing request gets, one of {', '.join(FAULTS)}, or several comma-separated "
        "(each failing request draws one that fits its reply); see "
        "bench.testing.fake_server.faults"
    )] = "500"  # fmt: skip
    fault_log: Annotated[str | None, FILE, S(
        "append each fault given as a JSON line (fault, the reply it replaced, the request's "
        "headers without credentials): the truth a test compares against"
    )] = None  # fmt: skip
    fault_above_inflight: Annotated[int | None, Field(ge=0), Flag(metavar="N"), S(
        "draw faults only for requests that saw more than N requests in flight (their own "
        "included) before the draw: a fault that appears only under load"
    )] = None  # fmt: skip
    stall_s: Annotated[Seconds, S("how long a stalled request hangs")] = 300.0
    seed: Annotated[int | None, S("seed of the fault draw")] = None
    prompt_tokens_details: Annotated[bool, S(
        "leave out usage.prompt_tokens_details.cached_tokens (like a server without "
        "--enable-prompt-tokens-details)"
    )] = True  # fmt: skip
    record_headers: Annotated[str | None, FILE, S(
        "append each chat request's headers (credentials left out) as JSONL"
    )] = None  # fmt: skip
    record_bodies: Annotated[str | None, FILE, S(
        "append each chat request's body as received, one JSON line each (compare what "
        "clients send)"
    )] = None  # fmt: skip
    no_auto_tool_choice: Annotated[bool, S(
        "answer 400 to tool_choice auto, as vLLM without --enable-auto-tool-choice"
    )] = False  # fmt: skip

    @field_validator("served_model_name", mode="before")
    @classmethod
    def _names_as_one(cls, value: Any) -> Any:
        """`--served-model-name a b`, as vLLM takes it: every name is listed and answered."""
        return " ".join(value) if isinstance(value, list) else value

    @field_validator("fault")
    @classmethod
    def _known_faults(cls, value: str) -> str:
        return ",".join(parse_faults(value))


def flag_hints(name: str) -> Flag:
    """A setting's `Flag` (an empty one when it has none)."""
    metadata = FakeServerConfig.model_fields[name].metadata
    return next((m for m in metadata if isinstance(m, Flag)), Flag())


def check_setting(name: str, value: Any) -> Any:
    """One setting's value validated alone (as typed on the command line, say); ValueError
    with the reason, never the value (it may be a key)."""
    probe = FakeServerConfig.model_construct()
    try:
        FakeServerConfig.__pydantic_validator__.validate_assignment(probe, name, value)
    except ValidationError as exc:
        reasons = (e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ValueError("; ".join(reasons)) from None
    return getattr(probe, name)
