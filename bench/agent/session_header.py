"""`--session-header NAME`: the ADK session id on every LLM call of that session.

KV-aware routers in front of vLLM (llm-d, the vLLM router, gateways) keep a session's calls on
one replica when each request names the session. ADK's LiteLlm merges
`llm_request.config.http_options.headers` into LiteLLM's `extra_headers`
(google/adk/models/lite_llm.py), so a plugin's before-model callback is enough: the header goes
out with the call on the wire and the model layer's timing is untouched.
"""

from __future__ import annotations

from typing import Any

from google.adk.plugins.base_plugin import BasePlugin


class SessionHeaderPlugin(BasePlugin):
    """Adds `<name>: <ADK session id>` to every LLM request; returns None (the call goes on)."""

    def __init__(self, header_name: str) -> None:
        super().__init__(name="bench_session_header")
        self.header_name = header_name

    async def before_model_callback(self, *, callback_context: Any, llm_request: Any) -> None:
        from google.genai import types

        if llm_request.config is None:
            llm_request.config = types.GenerateContentConfig()
        options = llm_request.config.http_options or types.HttpOptions()
        options.headers = {**(options.headers or {}), self.header_name: callback_context.session.id}
        llm_request.config.http_options = options
        return None
