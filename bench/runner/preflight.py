"""Tool-calling preflight: a few real agent sessions before the load, to catch a wrong tool
parser or chat template (zero parsed calls make every number of the run meaningless).

    verdict = run_preflight(cfg, inputs, endpoint, run_dir, plan)   # -> PreflightVerdict

Up to `MAX_CASES` eval cases that expect tool calls run one session each, in this process,
against the ready server. The run stops (exit 1) when
- the server answers 400 to a request with `tools` because auto tool choice is off, or
- no expected tool call was parsed and the reply text looks like an unparsed call in a known
  parser's format (bench.scoring.unparsed).
A passing verdict can still carry a message the run prints before the load: the model answered
in prose, or called tools the agent does not have (with a hint when the tiny model's script,
written for the shipped eval sets, meets another agent). The sessions' records go to
`<run>/preflight/raw/`, never into the run's tables or summary, and the verdict to
`<run>/preflight/preflight.json`.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.schemas.config import RunConfig
from bench.schemas.run_dir import RunDir

MAX_CASES = 3
EXCERPT_CHARS = 200
# vLLM's 400 (renderers/online_renderer.py) when the server has no tool parser / auto tool choice.
AUTO_TOOL_CHOICE_OFF = ("--enable-auto-tool-choice", "requires --tool-call-parser")
# vLLM's 400 (v1/engine/input_processor.py) to a thinking_token_budget without a reasoning parser.
BUDGET_WITHOUT_PARSER = "thinking_token_budget is set but reasoning_config"


@dataclass
class PreflightVerdict:
    ok: bool
    sessions: int = 0
    expected_calls: int = 0
    parsed_calls: int = 0
    # "", "no_tool_cases", "auto_tool_choice_off", "unparsed_reasoning",
    # "thinking_budget_refused", "unparsed_calls", "no_calls", "unknown_tools"
    reason: str = ""
    message: str = ""
    excerpt: str | None = None
    unparsed_format: str | None = None
    records: dict[str, int] = field(default_factory=dict)


class _RawReplies:
    """Wraps each agent model's LiteLLM client to keep the reply text as the server sent it
    (before ADK's own parsing); preflight only, never under load."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def install(self, root_agent: Any) -> None:
        from google.adk.agents import LlmAgent

        from bench.agent.model_override import iter_agents

        for agent in iter_agents(root_agent):
            model = getattr(agent, "model", None)
            if isinstance(agent, LlmAgent) and model is not None and hasattr(model, "llm_client"):
                model.llm_client = self._wrap(model.llm_client)

    def _wrap(self, inner: Any) -> Any:
        from google.adk.models.lite_llm import LiteLLMClient

        replies = self

        class RawTextClient(LiteLLMClient):
            async def acompletion(self, model: str, messages: list, tools: Any, **kw: Any) -> Any:
                response = await inner.acompletion(model=model, messages=messages, tools=tools,
                                                   **kw)  # fmt: skip
                if not kw.get("stream"):
                    replies.texts.append(_content(response, "message") or "")
                    return response
                return replies._stream(response)

        return RawTextClient()

    async def _stream(self, stream: Any) -> Any:
        parts: list[str] = []
        try:
            async for chunk in stream:
                parts.append(_content(chunk, "delta") or "")
                yield chunk
        finally:
            self.texts.append("".join(parts))


def _content(obj: Any, field_name: str) -> str | None:
    choices = getattr(obj, "choices", None) or (
        obj.get("choices") if isinstance(obj, dict) else None
    )
    if not choices:
        return None
    choice = choices[0]
    message = (
        getattr(choice, field_name, None)
        if not isinstance(choice, dict)
        else choice.get(field_name)
    )
    content = (
        getattr(message, "content", None)
        if not isinstance(message, dict)
        else message.get("content")
    )
    return content if isinstance(content, str) else None


def _cases_with_calls(evalset: Any) -> list[Any]:
    from bench.agent.session import _calls  # the eval set's expected calls, as the turns see them

    picked = []
    for case in evalset.cases:
        if case.conversation and any(_calls(i.intermediate_data) for i in case.conversation):
            picked.append(case)
        if len(picked) == MAX_CASES:
            break
    return picked


def unparsed_format(text: str | None) -> str | None:
    """The first known parser format the text looks like (a call the server did not parse)."""
    from bench.scoring.unparsed import PATTERNS, looks_like_unparsed_call

    if not text:
        return None
    for name in PATTERNS:
        if looks_like_unparsed_call(text, name) and PATTERNS[name].search(text):
            return name
    return "json" if looks_like_unparsed_call(text, None) else None


def _fix(cfg: RunConfig, parser: str | None, template: str | None, seen: str | None) -> str:
    catalog = f"the catalog entry of {cfg.server.model}" + (
        f" ({cfg.server.catalog})" if cfg.server.catalog else ""
    )
    if cfg.server.endpoint:
        return (f"restart the server with --tool-call-parser {seen or 'NAME'} "
                "--enable-auto-tool-choice and the model's tool chat template")  # fmt: skip
    hint = f"--tool-parser {seen}" if seen and seen != "json" else "--tool-parser NAME"
    return f"run with {hint} (or --chat-template FILE for a template that renders tools), or fix {catalog}"


def verdict_from(
    cfg: RunConfig,
    turns: list[dict[str, Any]],
    finish_reasons: list[str | None],
    raw_texts: list[str],
    parser: str | None,
    template: str | None,
    known_tools: list[str] | None = None,
    scripted: bool = False,
    reasoning_parser: str | None = None,
) -> PreflightVerdict:
    """Judge the preflight: its turns, the raw finish reason of each LLM call and the raw reply
    texts as the server sent them. `known_tools`: the agent's tools (calls to others are named
    in the message); `scripted`: the server plays the tiny model's script; `reasoning_parser`:
    the server's, when bench knows it.

    "Parsed" means parsed by the server (finish reason `tool_calls`): ADK's LiteLlm also pulls
    inline JSON calls out of reply text (lite_llm.py, `_parse_tool_calls_from_text`), so a turn
    can hold calls the server's parser missed, at the cost of what the parser does (streamed
    calls, the finish reason, the server's tool metrics).
    """
    expected = sum(len(t["expected_tool_calls"]) for t in turns)
    parsed = sum(1 for r in finish_reasons if r == "tool_calls")
    v = PreflightVerdict(ok=True, sessions=len({t["session_id"] for t in turns}),
                         expected_calls=expected, parsed_calls=parsed)  # fmt: skip
    refused = next((t for t in turns
                    if any(s in (t["error"] or "") for s in AUTO_TOOL_CHOICE_OFF)), None)  # fmt: skip
    if refused is not None:
        v.ok, v.reason = False, "auto_tool_choice_off"
        v.excerpt = (refused["error"] or "")[:EXCERPT_CHARS]
        v.message = (
            "preflight: the server refuses tool calls: it answered 400 to a request with tools "
            f"because auto tool choice is off ({v.excerpt}); fix: "
            + _fix(cfg, parser or "hermes", template, parser)
        )
        return v
    thinking = _unparsed_thinking(cfg, raw_texts, reasoning_parser)
    if thinking is not None:
        v.ok, v.reason, v.excerpt, v.message = False, "unparsed_reasoning", *thinking
        return v
    budget = next((t for t in turns if BUDGET_WITHOUT_PARSER in (t["error"] or "")), None)
    if budget is not None:
        v.ok, v.reason = False, "thinking_budget_refused"
        v.excerpt = (budget["error"] or "")[:EXCERPT_CHARS]
        v.message = ("preflight: the server refuses --thinking-budget: it has no reasoning parser "
                     f"({v.excerpt}); fix: serve with --reasoning-parser NAME, or drop "
                     "--thinking-budget")  # fmt: skip
        return v
    made = [c["name"] for t in turns for c in t["tool_calls"]]
    unknown = sorted({n for n in made if known_tools is not None and n not in known_tools})
    if unknown:
        v.reason = "unknown_tools"
        v.message = (f"preflight: the model called tools the agent does not have: "
                     f"{', '.join(unknown)} ({sum(n in unknown for n in made)} of {len(made)} "
                     "calls; ADK answers each with 'tool not found')")  # fmt: skip
        if scripted:
            v.message += "; " + SCRIPTED_HINT
    if parsed:
        if not v.message:
            v.message = (f"preflight passed: {parsed} of {expected} expected tool call(s) parsed "
                         f"by the server in {v.sessions} session(s)")  # fmt: skip
        return v
    for text in raw_texts:
        seen = unparsed_format(text)
        if seen is not None:
            v.ok, v.reason, v.unparsed_format = False, "unparsed_calls", seen
            v.excerpt = text[:EXCERPT_CHARS]
            v.message = (
                f"preflight: {expected} expected tool call(s), none parsed by the server; its replies look like "
                f"unparsed {seen} calls. Tool parser: {parser or 'none'}, chat template: "
                f"{template or 'the model default'}. Reply: {v.excerpt!r}. Fix: "
                + _fix(cfg, parser, template, seen)
            )
            return v
    v.reason = "no_calls"  # prose answers: a model quality question, not a parser one
    v.message = (f"preflight: {expected} expected tool call(s), none made, and no reply looks "
                 "like an unparsed call (the model answered in prose)")  # fmt: skip
    if scripted:
        v.message += "; " + SCRIPTED_HINT
    return v


def _unparsed_thinking(
    cfg: RunConfig, raw_texts: list[str], reasoning_parser: str | None
) -> tuple[str, str] | None:
    """(excerpt, message) when a reply's text holds the model's thought: a thinking model served
    without its reasoning parser (calls inside the thought would be made, the thought would be
    scored as the answer and its tokens counted as output)."""
    from bench.scoring.unparsed_reasoning import unparsed_thinking

    for text in raw_texts:
        tags = unparsed_thinking(text)
        if tags is None:
            continue
        excerpt = text[:EXCERPT_CHARS]
        if cfg.server.endpoint:
            fix = "restart the server with --reasoning-parser NAME"
        else:
            fix = (f"run with --reasoning-parser NAME, or set reasoning_parser in the catalog "
                   f"entry of {cfg.server.model}")  # fmt: skip
        return excerpt, (
            f"preflight: the model's thinking comes back as answer text ({tags.name} in the "
            f"reply): the server's reasoning parser ({reasoning_parser or 'none'}) does not take "
            "it out, so the thought would be scored as the answer, counted as output, and a call "
            f"written inside it made. Reply: {excerpt!r}. Fix: {fix}; parsers for these tags: "
            f"{tags.parsers}"
        )
    return None


# The tiny models follow a script written for the shipped eval sets (bench.models.tiny_script).
SCRIPTED_HINT = ("the tiny model answers only the shipped eval sets' questions by script: measure "
                 "your own agent with a real model (--model, or --endpoint)")  # fmt: skip


def run_preflight(
    cfg: RunConfig, evalset: Any, agent_dir: Any, endpoint: Any, run_dir: RunDir,
    parser: str | None, template: str | None, scripted: bool = False,
    known_tools: list[str] | None = None, reasoning_parser: str | None = None,
) -> PreflightVerdict:  # fmt: skip
    """Play up to three tool-calling cases, one session each; record them; judge."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported
    from bench.agent.session import build_agent_bundle, run_session
    from bench.load.recorder import JsonlRecorder

    folder = RunDir(run_dir.path / "preflight")
    cases = _cases_with_calls(evalset)
    if not cases:
        verdict = PreflightVerdict(ok=True, reason="no_tool_cases",
                                   message="preflight: no eval case expects a tool call")  # fmt: skip
        _write(folder, verdict)
        return verdict
    recorder = JsonlRecorder(folder)
    turns: list[dict[str, Any]] = []
    finish_reasons: list[str | None] = []
    replies = _RawReplies()

    def on_llm_call(record: Any) -> None:
        recorder.llm_call(record)
        # as the server sent it (LiteLLM passes an "error" on as "stop", or "tool_calls" after a
        # partial call); LiteLLM's where the wire saw no reply
        finish_reasons.append(record["server_finish_reason"] or record["finish_reason"])

    def on_turn(record: Any) -> None:
        recorder.turn(record)
        turns.append(dict(record))

    async def play() -> None:
        bundle = build_agent_bundle(
            agent_dir, api_base=endpoint.api_base, served_model_name=endpoint.served_model_name,
            run_id=f"{run_dir.path.name}-preflight", eval_set_id=evalset.eval_set_id,
            extra_headers=endpoint.headers or None, api_key=endpoint.api_key,
            load=cfg.load.model_copy(update={"force_tools": False, "tool_latency": []}),
        )  # fmt: skip
        replies.install(bundle.root_agent)
        try:
            for case in cases:
                await run_session(bundle, case, on_llm_call=on_llm_call, on_turn=on_turn,
                                  on_session=recorder.session)  # fmt: skip
        finally:
            await bundle.close()

    try:
        asyncio.run(play())  # ADK's own log of it: the run's bench.log (bench.runner.run_log)
    finally:
        recorder.close()
    verdict = verdict_from(cfg, turns, finish_reasons, replies.texts, parser, template,
                           known_tools, scripted, reasoning_parser)  # fmt: skip
    _write(folder, verdict)
    return verdict


def _write(folder: RunDir, verdict: PreflightVerdict) -> None:
    folder.path.mkdir(parents=True, exist_ok=True)
    (folder.path / "preflight.json").write_text(json.dumps(asdict(verdict), indent=2) + "\n")


def preflight_check(
    cfg: RunConfig, inputs: Any, endpoint: Any, run_dir: RunDir
) -> PreflightVerdict:
    """The preflight of a run (`inputs` from check_inputs); raises RunFailed when it fails."""
    from bench.schemas.errors import RunFailed
    from bench.schemas.status import RunStatus

    plan = inputs.plan
    parser = plan.entry.tool_parser if plan is not None else cfg.server.tool_parser
    template = plan.entry.chat_template if plan is not None else cfg.server.chat_template
    scripted = plan is not None and (plan.entry.builder or "").startswith("tiny")
    reasoning = inputs.plan_info.get("reasoning_parser", cfg.server.reasoning_parser)
    verdict = run_preflight(cfg, inputs.evalset, inputs.agent_dir, endpoint, run_dir,
                            parser, template, scripted, inputs.known_tools,
                            reasoning)  # fmt: skip
    if not verdict.ok:
        raise RunFailed(RunStatus.PREFLIGHT_FAILED, verdict.message)
    return verdict


def check_tool_calling(cfg: RunConfig) -> tuple[PreflightVerdict, RunDir]:
    """`bench check`: the preflight alone, in a run folder of its own (no load, no tables)."""
    from datetime import UTC, datetime

    from bench.runner.inputs import check_inputs
    from bench.runner.run_folder import create_run_folder
    from bench.runner.run_log import run_log
    from bench.runner.server_session import server_session
    from bench.schemas.errors import RunFailed
    from bench.schemas.manifest import update_manifest
    from bench.schemas.status import RunStatus

    inputs = check_inputs(cfg)
    run_dir = create_run_folder(cfg, inputs)
    status, message = RunStatus.COMPLETED, ""
    try:
        with run_log(run_dir), server_session(cfg, inputs.plan, run_dir, run_id=run_dir.path.name,
                                              agent_dir=inputs.agent_dir) as session:  # fmt: skip
            verdict = preflight_check(cfg, inputs, session.endpoint, run_dir)
            message = verdict.message
    except RunFailed as exc:
        status, message = RunStatus(exc.status), str(exc)
        raise
    finally:
        update_manifest(run_dir, status=status, message=message,
                        ended_at=datetime.now(UTC).isoformat())  # fmt: skip
    return verdict, run_dir
