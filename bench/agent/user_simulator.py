"""ADK's own user simulator for `conversation_scenario` cases, talking to a bench endpoint.

`adk eval` plays a scenario case with `LlmBackedUserSimulator`: the starting prompt is the first
user message (no LLM call), then before each later turn the simulator sends one prompt (the plan,
the conversation so far, the stop signal `</finished>`) to its model and either gets the next
user message or the stop signal; it also stops after `max_allowed_invocations` user messages.
Bench builds the same simulator from the eval set's `user_simulator_config` (test_config.json)
and changes only the model it talks to: the config's `model` names a Gemini model ADK would
resolve through its registry, which is not reachable here, so the simulator's LLM is replaced
by `SimulatorLiteLlm` at `--user-simulator-endpoint` (default: the server under test). A config
without its own `model_configuration` gets a plain one: ADK's default asks for a Gemini thinking
budget that a vLLM server has no use for.

Every simulator call is timed like an agent call but recorded with `call_role="user_simulator"`,
so the results keep it out of the agent's latency and throughput figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.adk.evaluation.eval_config import EvalConfig
from google.adk.evaluation.simulation.llm_backed_user_simulator import (
    LlmBackedUserSimulator,
    LlmBackedUserSimulatorConfig,
)
from google.genai import types
from pydantic import ValidationError

from bench import constants
from bench.agent.timed_model import TimedLiteLlm
from bench.schemas.errors import BenchError
from bench.schemas.records import USER_SIMULATOR_ROLE


@dataclass(frozen=True)
class SimulatorEndpoint:
    """Where the simulator's model is served (an OpenAI-compatible /v1 URL) and its name."""

    api_base: str
    served_model_name: str
    api_key: str | None = None  # read from --user-simulator-api-key-env; never logged


class SimulatorLiteLlm(TimedLiteLlm):
    """A timed LiteLlm whose records say they are the user simulator's."""

    call_role: str = USER_SIMULATOR_ROLE

    async def generate_content_async(self, llm_request: Any, stream: bool = False) -> Any:
        # The simulator puts its config's model name (a Gemini name) on the request; LiteLLM
        # must see the hosted_vllm/ name instead.
        llm_request.model = self.model
        async for response in super().generate_content_async(llm_request, stream):
            yield response

    def __repr__(self) -> str:  # never show the api key held in the LiteLLM arguments
        return f"SimulatorLiteLlm(model={self.model!r})"


def simulator_config(raw: dict[str, Any] | None, where: str) -> LlmBackedUserSimulatorConfig:
    """ADK's parse of a `user_simulator_config` object (ADK's defaults when None)."""
    if raw is None:
        config = LlmBackedUserSimulatorConfig()
    else:
        try:
            parsed = EvalConfig.model_validate({"criteria": {}, "user_simulator_config": raw})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ()) if p != "user_simulator_config")
            raise BenchError(
                f"{where}: user_simulator_config{'.' + field if field else ''}: "
                f"{first.get('msg', 'invalid')}"
            ) from None
        if not isinstance(parsed.user_simulator_config, LlmBackedUserSimulatorConfig):
            kind = getattr(parsed.user_simulator_config, "type", None)
            raise BenchError(
                f"{where}: user_simulator_config type {kind!r} is not supported "
                "(bench runs the text simulator, type 'llm_backed')"
            )
        config = parsed.user_simulator_config
    if "model_configuration" not in config.model_fields_set:
        config = config.model_copy(update={"model_configuration": types.GenerateContentConfig()})
    return config


def with_max_turns(
    config: LlmBackedUserSimulatorConfig, max_turns: int | None
) -> LlmBackedUserSimulatorConfig:
    """`--max-turns` replaces the config's `max_allowed_invocations` (user messages per case)."""
    if max_turns is None:
        return config
    return config.model_copy(update={"max_allowed_invocations": max_turns})


def evalset_simulator_config(evalset: Any, max_turns: int | None) -> LlmBackedUserSimulatorConfig:
    """The simulator config a run uses: the loaded eval set's (`LoadedEvalSet`), errors naming
    its test_config.json, with `--max-turns` applied."""
    config = simulator_config(evalset.user_simulator_config, str(evalset.config_file))
    return with_max_turns(config, max_turns)


def simulator_model(
    endpoint: SimulatorEndpoint,
    *,
    request_timeout_s: float = constants.DEFAULT_REQUEST_TIMEOUT_S,
    extra_headers: dict[str, str] | None = None,
) -> SimulatorLiteLlm:
    model = SimulatorLiteLlm.for_server(
        endpoint.api_base,
        endpoint.served_model_name,
        agent_name=USER_SIMULATOR_ROLE,
        request_timeout_s=request_timeout_s,
        api_key=endpoint.api_key,
        extra_headers=extra_headers,
    )
    assert isinstance(model, SimulatorLiteLlm)
    return model


def new_user_simulator(
    case: Any, config: LlmBackedUserSimulatorConfig, model: SimulatorLiteLlm
) -> LlmBackedUserSimulator:
    """One simulator per session (it counts the session's user messages), as ADK makes one per
    eval case, talking to `model`."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[EXPERIMENTAL\]")  # ADK marks it so
        simulator = LlmBackedUserSimulator(
            config=config, conversation_scenario=case.conversation_scenario
        )
    if not hasattr(simulator, "_llm"):  # an ADK release that keeps its model elsewhere
        raise BenchError(
            "this google-adk's LlmBackedUserSimulator keeps no _llm: cannot point it at the server"
        )
    simulator._llm = model
    return simulator


def add_user_simulator(bundle: Any, spec: Any, evalset: Any) -> None:
    """Give an AgentBundle what scenario cases need, from a LoadSpec and the loaded eval set:
    the eval config's simulator settings (`--max-turns` applied) and the simulator's model."""
    import os

    config = evalset_simulator_config(evalset, spec.user_simulator.max_turns)
    if spec.user_simulator.api_base:
        key_env = spec.user_simulator.api_key_env
        endpoint = SimulatorEndpoint(
            api_base=spec.user_simulator.api_base,
            served_model_name=spec.user_simulator.model or spec.served_model_name,
            api_key=(os.environ.get(key_env) if key_env else None) or "EMPTY",
        )
        headers = None
    else:  # the server under test: its key (SERVER_API_KEY_ENV) and headers
        endpoint = SimulatorEndpoint(
            api_base=spec.api_base,
            served_model_name=spec.user_simulator.model or spec.served_model_name,
        )
        headers = spec.extra_headers() or None
    bundle.user_simulator_config = config
    bundle.user_simulator_model = simulator_model(
        endpoint, request_timeout_s=spec.load.request_timeout_s, extra_headers=headers
    )
