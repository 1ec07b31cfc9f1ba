"""Multi-GPU and multi-node vLLM flags reach the `vllm serve` command line unchanged."""

from __future__ import annotations

import pytest

from bench.cli.config_flags import server_config_from_flags
from bench.models.catalog import BUILTIN_MODELS
from bench.runner.sweep_plan import parse_engine_axes, plan_sweep
from bench.server.argv import build_vllm_argv, effective_engine_flags

QWEN = BUILTIN_MODELS["qwen2.5-7b-instruct"]


def server_argv(passthrough: list[str], **values) -> list[str]:
    cfg = server_config_from_flags({"model": "m", **values}, passthrough)
    engine = effective_engine_flags(cfg.engine, cfg.gpus, on_gpu=True, env={})
    return build_vllm_argv("/py", QWEN, QWEN.hf_id or "/m", engine, host="127.0.0.1", port=8000)


def after(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, argv
    return argv[argv.index(flag) + 1]


def test_tensor_and_pipeline_parallel_named_flags() -> None:
    argv = server_argv([], tensor_parallel_size=4, pipeline_parallel_size=2)
    assert after(argv, "--tensor-parallel-size") == "4"
    assert after(argv, "--pipeline-parallel-size") == "2"


def test_parallel_flags_as_engine_args_and_after_double_dash() -> None:
    argv = server_argv(["--pipeline-parallel-size", "2"],
                       engine_arg=["tensor-parallel-size=4", "distributed-executor-backend=ray"])  # fmt: skip
    assert after(argv, "--tensor-parallel-size") == "4"
    assert after(argv, "--pipeline-parallel-size") == "2"
    assert after(argv, "--distributed-executor-backend") == "ray"


def test_multi_node_data_parallel_flags_pass_through() -> None:
    """A secondary node of vLLM's multi-node data parallel: headless, pointing at the head."""
    extra = ["--data-parallel-size", "4", "--data-parallel-size-local", "2",
             "--data-parallel-start-rank", "2", "--data-parallel-address", "10.0.0.1",
             "--data-parallel-rpc-port", "13345", "--headless"]  # fmt: skip
    argv = server_argv(extra)
    tail = argv[-len(extra) :]
    assert tail == extra
    assert after(argv, "--data-parallel-address") == "10.0.0.1" and "--headless" in argv


def test_parallel_flags_can_be_swept() -> None:
    axes, fixed = parse_engine_axes(
        ["tensor-parallel-size=1,2,4", "data-parallel-address=10.0.0.1"]
    )
    plan = plan_sweep("s", ["m"], axes, "users", [8], step_duration_s=60)
    assert [c.engine_args() for c in plan.combos] == [
        ["--tensor-parallel-size", "1"], ["--tensor-parallel-size", "2"],
        ["--tensor-parallel-size", "4"],
    ]  # fmt: skip
    assert fixed == ["--data-parallel-address", "10.0.0.1"]


@pytest.mark.gpu
def test_eight_gpus_split_into_tensor_and_pipeline_parallel() -> None:
    """On a machine with 8 GPUs: --gpus 0-7 with pipeline parallel 2 gives tensor parallel 4."""
    from bench.schemas.config import ServerConfig
    from bench.server.launch import plan_server

    cfg = server_config_from_flags({"model": "tiny", "gpus": "0,1,2,3,4,5,6,7",
                                    "pipeline_parallel_size": 2}, [])  # fmt: skip
    assert isinstance(cfg, ServerConfig)
    argv = plan_server(cfg).argv
    assert after(argv, "--tensor-parallel-size") == "4"
    assert after(argv, "--pipeline-parallel-size") == "2"
