"""vLLM's start-up stage read from its log (bench.server.process.startup_stage): what `bench run`
shows while it waits. The lines are vLLM 0.32's, copied from a real CPU start of the tiny model."""

from __future__ import annotations

from pathlib import Path

from bench.server.process import startup_stage

LOG = [
    "(APIServer pid=1634) INFO 12-07 00:24:39 [api_utils.py:286] non-default args: {'enable_auto_tool_choice': True}",
    "(APIServer pid=1634) INFO 12-07 00:24:47 [model.py:733] Resolved architecture: LlamaForCausalLM",
    "(EngineCore pid=1790) INFO 12-07 00:24:54 [core.py:133] Initializing a V1 LLM engine (v0.32.0) with config: model='tiny'",
    "(Worker pid=1858) INFO 12-07 00:25:02 [cpu_model_runner.py:68] Starting to load model /root/.cache/tiny-v4...",
    "(Worker pid=1858) INFO 12-07 00:25:02 [default_loader.py:501] Loading weights took 0.01 seconds",
    "(EngineCore pid=1790) INFO 12-07 00:25:03 [kv_cache_utils.py:2327] CPU KV cache size: 524,288 tokens",
    "(EngineCore pid=1790) INFO 12-07 00:25:05 [core.py:402] init engine (profile, create kv cache, warmup model) took 1.55 s",
    "(APIServer pid=1634) INFO 12-07 00:25:05 [entry.py:136] Supported tasks: ['generate']",
]  # fmt: skip
STAGES = ["starting its API server", "reading the model's config", "starting the engine",
          "loading the model", "weights loaded", "allocating the KV cache", "engine ready",
          "starting the HTTP server"]  # fmt: skip


def test_each_line_moves_the_stage_on(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    assert startup_stage(log) == "starting"  # no log yet
    seen = []
    for line in LOG:
        with log.open("a") as out:
            out.write(line + "\n")
        seen.append(startup_stage(log))
    assert seen == STAGES
