"""The fake server's `/metrics`: Prometheus text with vLLM's metric names, counted from what it
actually sent, so a test can compare bench's scrape against it."""

from __future__ import annotations

import time


def _histogram(name: str, label: str, total_s: float, count: int) -> list[str]:
    """A histogram with only its +Inf bucket: enough for sum/count, as bench reads them."""
    return [
        f"# TYPE {name} histogram",
        f'{name}_bucket{{le="+Inf",{label}}} {count}',
        f"{name}_sum{{{label}}} {total_s}",
        f"{name}_count{{{label}}} {count}",
    ]


class ServerMetrics:
    """Counters and sums since start; `render` writes them as vLLM would."""

    def __init__(self) -> None:
        self.running = 0
        self.requests = 0
        self.success: dict[str, int] = {}  # finish reason -> requests
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.faults: dict[str, int] = {}
        self.e2e_sum_s = 0.0
        self.ttft_sum_s = 0.0
        self.ttft_count = 0
        self.tpot_sum_s = 0.0  # vLLM's request_time_per_output_token: decode time / (tokens - 1)
        self.tpot_count = 0

    def fault_given(self, fault: str) -> None:
        self.faults[fault] = self.faults.get(fault, 0) + 1

    def first_token(self, started: float) -> float:
        """The first token goes out now: its time, counted into the TTFT since `started`."""
        now = time.monotonic()
        self.ttft_sum_s += now - started
        self.ttft_count += 1
        return now

    def decoded(self, first_token: float, n_tokens: int) -> None:
        """The last token went out: the time per output token after `first_token`."""
        if n_tokens > 1:
            self.tpot_sum_s += (time.monotonic() - first_token) / (n_tokens - 1)
            self.tpot_count += 1

    def finished(self, prompt_tokens: int, completion_tokens: int, reason: str,
                 started: float) -> None:  # fmt: skip
        self.prompt_tokens += prompt_tokens
        self.generation_tokens += completion_tokens
        self.success[reason] = self.success.get(reason, 0) + 1
        self.e2e_sum_s += time.monotonic() - started

    def render(self, model: str) -> str:
        label = f'model_name="{model}"'
        done = sum(self.success.values())
        lines = [
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{{{label}}} {self.running}",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{{{label}}} 0",
            "# TYPE vllm:prompt_tokens_total counter",
            f"vllm:prompt_tokens_total{{{label}}} {self.prompt_tokens}",
            "# TYPE vllm:generation_tokens_total counter",
            f"vllm:generation_tokens_total{{{label}}} {self.generation_tokens}",
            "# TYPE vllm:request_success_total counter",
        ]
        for reason, n in sorted(self.success.items()):
            lines.append(f'vllm:request_success_total{{finished_reason="{reason}",{label}}} {n}')
        lines += _histogram("vllm:e2e_request_latency_seconds", label, self.e2e_sum_s, done)
        lines += _histogram("vllm:time_to_first_token_seconds", label, self.ttft_sum_s,
                            self.ttft_count)  # fmt: skip
        lines += _histogram("vllm:request_time_per_output_token_seconds", label,
                            self.tpot_sum_s, self.tpot_count)  # fmt: skip
        lines += [
            "# TYPE fake:requests_total counter",
            f"fake:requests_total{{{label}}} {self.requests}",
            "# TYPE fake:faults_total counter",
        ]
        for fault, n in sorted(self.faults.items()):
            lines.append(f'fake:faults_total{{fault="{fault}",{label}}} {n}')
        return "\n".join(lines) + "\n"
