"""The fake server's settings, each declared once: name, type, default, help and bounds.

Every field is one flag of `bench fake-server` (`cli.build_parser`): `--` and the name with
dashes, or what `flag=` says; a bool is a switch, `--name` when it is off by default and
`--no-name` (whose help the description is) when on. A flag's value is checked against the
field's type and bounds as it is parsed. `running_fake_server(**knobs)` takes the same names.
Adding a setting is one field here, plus its use.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.schemas.settings import FAKE_SERVER_KEY_ENV
from bench.testing.fake_server.faults import FAULTS, parse_faults

DEFAULT_SERVED_NAME = "fake"


def flag(**hints: Any) -> dict[str, Any]:
    """How a setting looks on the command line, when not the default: `flag` (its name),
    `metavar`, `nargs`, `env` (the flag names an environment variable holding the value;
    `running_fake_server` passes the value in this variable)."""
    return hints


class FakeServerConfig(BaseModel):
    """What the fake server answers, how fast, and which requests fail."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=0, le=65535, description="0 = a free port (printed)")
    served_model_name: str = Field(
        DEFAULT_SERVED_NAME,
        description="names listed on /v1/models; any other model name gets 404, as from vLLM",
        json_schema_extra=flag(nargs="+"),
    )
    api_key: str | None = Field(
        None,
        repr=False,
        description="env var holding the API key to require",
        json_schema_extra=flag(flag="--api-key-env", env=FAKE_SERVER_KEY_ENV),
    )
    latency_ms: float = Field(0.0, ge=0, description="added to every request")
    latency_per_inflight_ms: float = Field(
        0.0,
        ge=0,
        description="added per request in flight (this one included): latency grows with load",
    )
    ttft_ms: float = Field(0.0, ge=0, description="time to the first token")
    itl_ms: float = Field(0.0, ge=0, description="time between tokens")
    tokens: int | None = Field(None, ge=1, description="tokens per reply (default: natural)")
    tool_name_tokens: int = Field(
        0,
        ge=0,
        description="tool-call replies: tokens generated before the first streamed tool-call "
        "delta (vLLM's tool parsers stream nothing until they know the name)",
    )
    reasoning_tokens: int = Field(
        0,
        ge=0,
        description="a thinking model: reasoning deltas before each reply, itl-ms apart, "
        "reported in usage.completion_tokens_details (none when the request sets "
        "enable_thinking false)",
    )
    fail_rate: float = Field(0.0, ge=0, le=1, description="fraction of requests that fail")
    fault: str = Field(
        "500",
        description=f"what a failing request gets, one of {', '.join(FAULTS)}, or several "
        "comma-separated (each failing request draws one that fits its reply); see "
        "bench.testing.fake_server.faults",
    )
    fault_log: str | None = Field(
        None,
        description="append each fault given as a JSON line (fault, the reply it replaced, the "
        "request's headers without credentials): the truth a test compares against",
        json_schema_extra=flag(metavar="FILE"),
    )
    fault_above_inflight: int | None = Field(
        None,
        ge=0,
        description="draw faults only for requests that saw more than N requests in flight "
        "(their own included) before the draw: a fault that appears only under load",
        json_schema_extra=flag(metavar="N"),
    )
    stall_s: float = Field(300.0, ge=0, description="how long a stalled request hangs")
    seed: int | None = Field(None, description="seed of the fault draw")
    prompt_tokens_details: bool = Field(
        True,
        description="leave out usage.prompt_tokens_details.cached_tokens (like a server "
        "without --enable-prompt-tokens-details)",
    )
    record_headers: str | None = Field(
        None,
        description="append each chat request's headers (credentials left out) as JSONL",
        json_schema_extra=flag(metavar="FILE"),
    )
    record_bodies: str | None = Field(
        None,
        description="append each chat request's body as received, one JSON line each "
        "(compare what clients send)",
        json_schema_extra=flag(metavar="FILE"),
    )
    no_auto_tool_choice: bool = Field(
        False,
        description="answer 400 to tool_choice auto, as vLLM without --enable-auto-tool-choice",
    )

    @field_validator("served_model_name", mode="before")
    @classmethod
    def _names_as_one(cls, value: Any) -> Any:
        """`--served-model-name a b`, as vLLM takes it: every name is listed and answered."""
        return " ".join(value) if isinstance(value, list) else value

    @field_validator("fault")
    @classmethod
    def _known_faults(cls, value: str) -> str:
        return ",".join(parse_faults(value))


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
