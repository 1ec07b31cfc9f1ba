"""Every patch bench makes to a third-party library's internals, behind one gate.

One module per patch: `lean_stream` (ADK reads LiteLLM's parsed chunks without its stream
wrapper), `litellm_logging` (LiteLLM's unread success logging and pricing skipped),
`a2a_import` (ADK's failing a2a import cached), `strict_stream` (a malformed streamed chunk is
an error), `anyio_threads` and `plain_subprocess` (anyio's threads and `subprocess` without
gevent in the load process), `real_locks` (locks real threads share, made real),
`csv_writer_guard` (Locust's CSV writer quiet at a normal finish).

`check()` (bench.compat.gate) runs once at the start of the load process: every attribute the
patches touch exists and the installed versions are in the tested range. A patch that fails
is not applied (the library's own path runs) and one line on stderr says what fell back. This
package imports only third-party libraries and bench's bottom layer.
"""

from __future__ import annotations

from bench.compat.gate import TESTED, allowed, check

__all__ = ["TESTED", "allowed", "check"]
