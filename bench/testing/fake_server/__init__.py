"""An OpenAI-compatible fake of a vLLM server, for tests and for `bench fake-server`.

It speaks the parts of vLLM's API that bench uses: `/health`, `/v1/models`,
`/v1/chat/completions` (streaming SSE, with a final usage chunk when
`stream_options.include_usage` is set, and non-streaming) and `/metrics` (Prometheus text with
vLLM's metric names). Knobs: latency (fixed, and growing with the requests in flight), time to
first token, inter-token latency, tokens per reply, a tool parser's hold-back, reasoning tokens,
and faults (`--fail-rate`, `--fault`, optionally only above N requests in flight).

The package, by job:
- `settings`: `FakeServerConfig`, every setting declared once (each one is a flag);
- `policy`: what the fake model answers (the tiny model's script by default);
- `faults`: which requests fail and how, and the fault log a test compares against;
- `metrics`: the `/metrics` text;
- `completion`, `streaming`: one answer's tokens, timing and usage; its SSE events;
- `app`: the aiohttp app (`FakeServer`) and `serve`;
- `cli`: the flags derived from the settings; `process`: `running_fake_server`.

    python -m bench.testing.fake_server --port 8001 --api-key-env MY_KEY --itl-ms 5
"""

from bench.testing.fake_server.app import READY_LINE_PREFIX, FakeServer, serve
from bench.testing.fake_server.cli import build_parser, config_from_args, main
from bench.testing.fake_server.faults import FAULTS
from bench.testing.fake_server.policy import (
    Reply,
    ReplyPolicy,
    ToolCallReply,
    answered_tool,
    default_policy,
    last_user_text,
)
from bench.testing.fake_server.process import running_fake_server
from bench.testing.fake_server.settings import DEFAULT_SERVED_NAME, FakeServerConfig

__all__ = ["DEFAULT_SERVED_NAME", "FAULTS", "READY_LINE_PREFIX", "FakeServer", "FakeServerConfig",
           "Reply", "ReplyPolicy", "ToolCallReply", "answered_tool", "build_parser",
           "config_from_args", "default_policy", "last_user_text", "main", "running_fake_server",
           "serve"]  # fmt: skip
