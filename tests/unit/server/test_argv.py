from pathlib import Path

import pytest

from bench.models.catalog import BUILTIN_MODELS
from bench.schemas.config import EngineFlags, ServerConfig
from bench.schemas.errors import BenchError
from bench.server.argv import (
    build_vllm_argv,
    effective_engine_flags,
    engine_argv,
    parse_engine_arg,
    parse_gpus,
    vllm_env,
)

GEMMA = BUILTIN_MODELS["gemma-3-4b-it"]


def argv_for(engine: EngineFlags, entry=GEMMA) -> list[str]:
    return build_vllm_argv("/py", entry, entry.hf_id or "/m", engine, host="127.0.0.1", port=8123)


def value_after(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, f"{flag} appears {argv.count(flag)} times in {argv}"
    return argv[argv.index(flag) + 1]


def test_base_argv_for_gemma_uses_pythonic_parser_and_shipped_template():
    argv = argv_for(EngineFlags())
    assert argv[:3] == ["/py", "-m", "vllm.entrypoints.openai.api_server"]
    assert value_after(argv, "--model") == "google/gemma-3-4b-it"
    assert value_after(argv, "--served-model-name") == "gemma-3-4b-it"
    assert value_after(argv, "--host") == "127.0.0.1"
    assert value_after(argv, "--port") == "8123"
    assert "--enable-auto-tool-choice" in argv
    assert value_after(argv, "--tool-call-parser") == "pythonic"
    template = Path(value_after(argv, "--chat-template"))
    assert template.name == "gemma3_pythonic_tools.jinja" and template.exists()
    assert value_after(argv, "--max-model-len") == "8192"
    assert value_after(argv, "--dtype") == "bfloat16"
    assert "--api-key" not in argv  # the key travels in VLLM_API_KEY only
    assert argv.count("--enable-prompt-tokens-details") == 1  # cached tokens per call


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("tensor_parallel_size", 2, ["--tensor-parallel-size", "2"]),
        ("pipeline_parallel_size", 2, ["--pipeline-parallel-size", "2"]),
        ("data_parallel_size", 4, ["--data-parallel-size", "4"]),
        ("gpu_memory_utilization", 0.85, ["--gpu-memory-utilization", "0.85"]),
        ("max_model_len", 4096, ["--max-model-len", "4096"]),
        ("max_num_seqs", 64, ["--max-num-seqs", "64"]),
        ("max_num_batched_tokens", 8192, ["--max-num-batched-tokens", "8192"]),
        ("enable_prefix_caching", True, ["--enable-prefix-caching"]),
        ("enable_prefix_caching", False, ["--no-enable-prefix-caching"]),
        ("kv_cache_dtype", "fp8", ["--kv-cache-dtype", "fp8"]),
        ("quantization", "fp8", ["--quantization", "fp8"]),
        ("dtype", "half", ["--dtype", "half"]),
        ("enforce_eager", True, ["--enforce-eager"]),
        (
            "speculative_config",
            '{"method": "ngram", "num_speculative_tokens": 3}',
            ["--speculative-config", '{"method": "ngram", "num_speculative_tokens": 3}'],
        ),
    ],
)
def test_every_typed_flag(field, value, expected):
    assert engine_argv(EngineFlags(**{field: value})) == expected


def test_typed_flags_override_catalog_defaults_once():
    argv = argv_for(EngineFlags(max_model_len=2048, dtype="float16"))
    assert value_after(argv, "--max-model-len") == "2048"
    assert value_after(argv, "--dtype") == "float16"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("swap-space=4", ["--swap-space", "4"]),
        ("swap_space=4", ["--swap-space", "4"]),
        ("--block-size=32", ["--block-size", "32"]),
        ("enable-chunked-prefill=false", ["--no-enable-chunked-prefill"]),
        ("enable-chunked-prefill=true", ["--enable-chunked-prefill"]),
        ("trust-remote-code", ["--trust-remote-code"]),
        ('compilation-config={"level": 3}', ["--compilation-config", '{"level": 3}']),
    ],
)
def test_engine_arg_passthrough(text, expected):
    assert parse_engine_arg(text) == expected


def test_passthrough_args_come_last_verbatim():
    argv = argv_for(EngineFlags(max_num_seqs=8, extra_args=["--swap-space", "4", "--foo"]))
    assert argv[-3:] == ["--swap-space", "4", "--foo"]


def test_bad_engine_arg_is_a_user_error():
    with pytest.raises(BenchError, match="--engine-arg"):
        parse_engine_arg("=3")


def test_gpus_set_visible_devices_and_default_tensor_parallel():
    assert parse_gpus("0,1") == [0, 1]
    engine = effective_engine_flags(EngineFlags(), [0, 1], on_gpu=True)
    assert engine.tensor_parallel_size == 2
    env = vllm_env({}, gpus=[2, 3], api_key="k", offline=False)
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"


def test_gpus_split_over_pipeline_parallel():
    engine = effective_engine_flags(
        EngineFlags(pipeline_parallel_size=2), [0, 1, 2, 3], on_gpu=True
    )
    assert engine.tensor_parallel_size == 2
    with pytest.raises(BenchError, match="--gpus"):
        effective_engine_flags(EngineFlags(pipeline_parallel_size=3), [0, 1], on_gpu=True)


def test_explicit_tensor_parallel_wins_over_gpu_count():
    assert (
        effective_engine_flags(
            EngineFlags(tensor_parallel_size=1), [0, 1], on_gpu=True
        ).tensor_parallel_size
        == 1
    )


def test_cpu_defaults_to_eager_unless_told_otherwise():
    assert effective_engine_flags(EngineFlags(), None, on_gpu=False).enforce_eager is True
    assert (
        effective_engine_flags(EngineFlags(enforce_eager=False), None, on_gpu=False).enforce_eager
        is False
    )
    assert effective_engine_flags(EngineFlags(), None, on_gpu=True).enforce_eager is None


@pytest.mark.parametrize("text", ["a", "0,0", "-1", ""])
def test_bad_gpus(text):
    with pytest.raises(BenchError, match="--gpus"):
        parse_gpus(text)


def test_env_holds_key_and_drops_empty_kv_cache_space():
    env = vllm_env({"VLLM_CPU_KVCACHE_SPACE": ""}, gpus=None, api_key="secret", offline=True)
    assert env["VLLM_API_KEY"] == "secret"
    assert "VLLM_CPU_KVCACHE_SPACE" not in env
    assert env["HF_HUB_OFFLINE"] == "1"
    assert "CUDA_VISIBLE_DEVICES" not in env


def test_endpoint_refuses_engine_flags():
    with pytest.raises(ValueError, match="--endpoint"):
        ServerConfig(endpoint="http://127.0.0.1:1", engine=EngineFlags(max_num_seqs=4))
    with pytest.raises(ValueError, match="--gpus"):
        ServerConfig(endpoint="http://127.0.0.1:1", gpus=[0])


def test_cpu_sizes_the_kv_cache_unless_the_user_did():
    engine = effective_engine_flags(EngineFlags(), None, on_gpu=False)
    assert engine.extra_args == ["--kv-cache-memory-bytes", "512M"]
    given = EngineFlags(extra_args=["--kv-cache-memory-bytes", "2G"])
    assert effective_engine_flags(given, None, on_gpu=False).extra_args == [
        "--kv-cache-memory-bytes",
        "2G",
    ]
    assert (
        effective_engine_flags(
            EngineFlags(gpu_memory_utilization=0.3), None, on_gpu=False
        ).extra_args
        == []
    )
    assert (
        effective_engine_flags(
            EngineFlags(), None, on_gpu=False, env={"VLLM_CPU_KVCACHE_SPACE": "2"}
        ).extra_args
        == []
    )
    assert effective_engine_flags(EngineFlags(), None, on_gpu=True).extra_args == []


@pytest.mark.parametrize(
    ("model", "parser"),
    [("tiny-reasoning", "qwen3"), ("qwen3-8b", "qwen3"), ("qwq-32b", "deepseek_r1"),
     ("tiny", None), ("gemma-3-4b-it", None)],
)  # fmt: skip
def test_reasoning_parser_from_the_catalog(model: str, parser: str | None) -> None:
    argv = argv_for(EngineFlags(), BUILTIN_MODELS[model])
    if parser is None:
        assert "--reasoning-parser" not in argv
    else:
        assert value_after(argv, "--reasoning-parser") == parser
        assert value_after(argv, "--tool-call-parser") == "hermes"


def test_reasoning_parser_flag_and_passthrough_replace_the_catalogs() -> None:
    from bench.models.catalog import load_catalog, resolve_model
    from bench.server.argv import reasoning_parser_of

    catalog = load_catalog()
    entry = resolve_model("tiny-reasoning", catalog, reasoning_parser="deepseek_r1")
    assert value_after(argv_for(EngineFlags(), entry), "--reasoning-parser") == "deepseek_r1"
    none = resolve_model("tiny-reasoning", catalog, reasoning_parser="none")
    assert none.reasoning_parser is None and "--reasoning-parser" not in argv_for(
        EngineFlags(), none
    )
    adhoc = resolve_model("org/thinker", catalog, tool_parser="hermes", reasoning_parser="qwen3")
    assert value_after(argv_for(EngineFlags(), adhoc), "--reasoning-parser") == "qwen3"
    # A sweep's --engine-arg reasoning-parser=a,b (or flags after --) replaces the catalog's once.
    base = BUILTIN_MODELS["tiny-reasoning"]
    for extra in (["--reasoning-parser", "deepseek_r1"], ["--reasoning-parser=deepseek_r1"]):
        engine = EngineFlags(extra_args=extra)
        argv = argv_for(engine, base)
        assert sum(a.startswith("--reasoning-parser") for a in argv) == 1
        assert reasoning_parser_of(base, engine) == "deepseek_r1"
    assert reasoning_parser_of(base, EngineFlags()) == "qwen3"
