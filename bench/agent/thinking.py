"""What a run asks of a thinking model with every LLM call: `--thinking on|off` and
`--thinking-budget N`.

Both travel in the JSON body of the request (LiteLLM merges `extra_body` into a `hosted_vllm/`
request body as it is):
- `chat_template_kwargs={"enable_thinking": true|false}`: the switch of Qwen3's chat template
  (and tiny-reasoning's). With false the template writes an empty `<think>\\n\\n</think>` into the
  prompt, and vLLM's `qwen3` reasoning parser reads the whole reply as answer;
- `thinking_token_budget`: vLLM's per-request cap on reasoning tokens; at the cap it forces the
  reasoning parser's end tag. vLLM refuses it (400) when the server has no reasoning parser.

Nothing is added when neither is set, so the request bytes of every other run stay as they were.
The agent's calls carry it; the calls of ADK's user simulator and of the judge do not.
"""

from __future__ import annotations

from typing import Any


def request_extra_body(thinking: str | None, budget: int | None) -> dict[str, Any] | None:
    """The request-body fields for `--thinking` ("on"/"off"/None) and `--thinking-budget`."""
    body: dict[str, Any] = {}
    if thinking is not None:
        body["chat_template_kwargs"] = {"enable_thinking": thinking == "on"}
    if budget is not None:
        body["thinking_token_budget"] = budget
    return body or None
