"""Text given on the command line or in a TOML file -> typed values, with one-line errors.

Pure parsers shared by the run config (bench.schemas.config), the server's argv builder and the
SLO scorer. Each raises ValueError naming what is wrong; the caller names the flag.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from bench.schemas.errors import BenchError

# ttft_ms bounds every reply; ttft_text_ms only text replies, ttft_tool_ms only replies with a
# tool call (their TTFT includes the tool parser's hold-back: bench.agent.reply_timing)
SLO_KEYS = ("ttft_ms", "ttft_text_ms", "ttft_tool_ms", "tpot_ms", "turn_ms", "session_ms")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}


def duration_s(value: Any, *, zero: bool = False) -> float:
    """`90`, `90s`, `2m`, `1h`, `500ms` -> seconds, > 0 (`zero`: `0s` too); a number is seconds
    already (a saved config may hold 0 for "no pause"; the field's own bound decides)."""
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a duration like 30s, 5m or 1h")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"'{value}' is not a duration like 30s, 5m or 1h")
        return float(value)
    match = _DURATION.match(str(value))
    if not match or float(match.group(1)) < 0 or (float(match.group(1)) == 0 and not zero):
        raise ValueError(f"'{value}' is not a duration like 30s, 5m or 1h")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def duration_or_zero_s(value: Any) -> float:
    """`duration_s` that takes `0s` (no think time, no drain)."""
    return duration_s(value, zero=True)


def number_list(value: Any, kind: type[int] | type[float]) -> list[Any]:
    """`8`, `1,4,16`, 8 or [1, 4, 16] (a TOML file may give a number or a list) -> numbers > 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    try:
        numbers = [kind(part) for part in str(value).split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"'{value}' is not a number or a comma-separated list of numbers"
        ) from None
    if not numbers or any(n <= 0 for n in numbers):
        raise ValueError("every value must be greater than 0")
    return numbers


def parse_duration(text: Any, flag: str) -> float:
    """`duration_s` with the flag named in the error."""
    try:
        return duration_s(text)
    except ValueError as exc:
        raise BenchError(f"{flag}: {exc}") from None


def parse_number_list(text: Any, flag: str, kind: type[int] | type[float]) -> list[Any]:
    try:
        return number_list(text, kind)
    except ValueError as exc:
        raise BenchError(f"{flag}: {exc}") from None


def parse_processes(value: Any, flag: str = "--processes") -> int | None:
    """A whole number of load processes (1 or more), or auto (None)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    n = 0
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        n = int(value)
    if n < 1:
        raise BenchError(f"{flag}: give a whole number of processes (1 or more) or auto, "
                         f"not {value!r}")  # fmt: skip
    return n


def parse_gpus(text: str) -> list[int]:
    """`0,1` -> [0, 1], with a clear error for anything else."""
    try:
        gpus = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BenchError(f"--gpus: '{text}' is not a comma-separated list of GPU indices") from None
    if not gpus or any(g < 0 for g in gpus) or len(set(gpus)) != len(gpus):
        raise BenchError(f"--gpus: '{text}' is not a list of distinct GPU indices")
    return gpus


def parse_engine_arg(text: str) -> list[str]:
    """`KEY=VALUE` -> `--key VALUE`; `KEY=true` -> `--key`; `KEY=false` -> `--no-key`; `KEY` -> `--key`."""
    key, sep, value = text.partition("=")
    key = key.strip().lstrip("-")
    if not key or any(c.isspace() for c in key):
        raise BenchError(f"--engine-arg: '{text}' is not KEY=VALUE")
    name = "--" + key.replace("_", "-")
    if not sep:
        return [name]
    lowered = value.strip().lower()
    if lowered == "true":
        return [name]
    if lowered == "false":
        return ["--no-" + key.replace("_", "-")]
    return [name, value]


def parse_slo(text: str | None) -> dict[str, float]:
    """`ttft_ms=500,turn_ms=3000` (any subset of SLO_KEYS) -> {key: milliseconds}."""
    if not text:
        return {}
    slo: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in SLO_KEYS:
            raise BenchError(
                f"--slo: '{part.strip()}' is not one of {', '.join(k + '=MS' for k in SLO_KEYS)}"
            )
        try:
            number = float(value)
        except ValueError:
            raise BenchError(
                f"--slo: {key} needs a number of milliseconds, got '{value}'"
            ) from None
        if number <= 0:
            raise BenchError(f"--slo: {key} must be positive")
        slo[key] = number
    return slo


def read_toml(path: Path, flag: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or broken file is one line naming the flag and file."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"{flag}: {path} does not exist") from None
    except IsADirectoryError:
        raise BenchError(f"{flag}: {path} is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{flag}: {path}: invalid TOML ({exc})") from None


# Flags whose value bench sets itself: the API key is bench's own per-run key (VLLM_API_KEY, never
# on a command line, where `ps`, the printed command and the manifest would show it).
RESERVED_FLAGS = {"--api-key": "the API key is bench's own per-run key (use --api-key-env)"}


def refuse_reserved_flags(args: list[str], source: str) -> None:
    """Refuse a reserved flag in `--engine-arg` or after `--`; the value is never echoed."""
    for arg in args:
        name = arg.split("=", 1)[0].replace("_", "-")
        if name in RESERVED_FLAGS:
            raise BenchError(f"{source}: {name} cannot be passed to vLLM: {RESERVED_FLAGS[name]}")


_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP token (RFC 9110)
# Headers that carry credentials: a session id must never be sent (or recorded) as one of them.
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key",
                          "api-key"})  # fmt: skip


def session_header_name(value: Any) -> str | None:
    """`X-Session-ID` -> itself; refuses what is not a header name or names a credential."""
    if value is None:
        return None
    name = str(value).strip()
    if not _HEADER_NAME.match(name):
        raise ValueError(f"'{value}' is not an HTTP header name like X-Session-ID")
    if name.lower() in AUTH_HEADERS:
        raise ValueError(f"'{name}' carries credentials; name a routing header like X-Session-ID")
    return name
