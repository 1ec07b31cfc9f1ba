"""vllm-agent-bench: agent sessions/s, turn latency and tool accuracy on vLLM."""

__version__ = "0.4.0"
