"""How close are bench's client TTFT, TPOT and ITL to the truth, per reply kind, beside
`vllm bench serve`'s?

The fake server streams with a known TTFT and inter-token delay (default 50 ms and 10 ms, fixed
reply length), counted from when the server has the request (its own work comes out of the
TTFT), so the true TTFT is that TTFT plus the sleep's overshoot and the true TPOT and ITL are the
inter-token delay plus its overshoot. A tool-call reply also holds back `--tool-name-tokens`
tokens before its first delta (default 6), as vLLM's tool parsers do: its true TTFT is TTFT +
6 x ITL and its parser hold-back 6 x ITL. The overshoot is under a millisecond on an idle
machine and grows on a busy one, so the truth each run is judged against is what the server
did by its own clock over that run (its /metrics: the exact mean TTFT, and the mean time per
token for the overshoot of the hold-back's sleep), with the set delays printed beside it. For each user count (default 1, 4, 12, 32) this runs
`bench run --endpoint <fake server> --model fake` (default `--processes auto`) and, as the peer,
`vllm bench serve` (openai-chat backend, random prompts, `--max-concurrency` = users; text
replies only: its TTFT of a tool-call reply would be the role chunk, before the hold-back)
against the same server, and prints bench's figures per reply kind against the truth, the
peer's against the truth, and bench's `client_saturated` with its reason.

Targets: every point within 10 % of the truth (at 1 user: 2 ms + 3 %), or flagged saturated with
the reason (a saturated client measures its own queueing, not the server).

    .venv/bin/python benchmarks/timing_fidelity.py                      # 1, 4, 12, 32 users
    .venv/bin/python benchmarks/timing_fidelity.py --users 1 --duration 20s --no-peer
    .venv/bin/python benchmarks/timing_fidelity.py --processes 1        # default: auto

The peer runs in the vLLM environment (`.venv-vllm/bin/python`) through
`vllm.benchmarks.serve` (the `vllm` entry point can fail there on missing package metadata);
its tokenizer is the tiny test model's, built locally (`bench.models.tiny`). Timings on a
shared machine are noisy: run it on an idle one to judge the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.testing.fake_server import running_fake_server  # noqa: E402

TOKENS = 16  # tokens per reply: TPOT = ITL exactly on the fake server

_PEER = """
import json, sys
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.benchmarks.serve import add_cli_args, main
parser = FlexibleArgumentParser()
add_cli_args(parser)
result = main(parser.parse_args(sys.argv[1:]))
keys = ("completed", "median_ttft_ms", "median_tpot_ms", "median_itl_ms", "median_e2el_ms")
print("PEER_RESULT " + json.dumps({k: result.get(k) for k in keys}))
"""


BENCH_COLUMNS = ("ttft_text_p50_ms", "ttft_tool_p50_ms", "tool_holdback_p50_ms",
                 "tpot_text_p50_ms", "tpot_tool_p50_ms", "itl_p50_ms", "model_ttft_p50_ms",
                 "pull_delay_p90_ms", "client_wire_lag_p90_ms", "client_lag_p90_ms",
                 "client_cpu_mean_pct", "server_ttft_mean_ms", "server_tpot_mean_ms",
                 "client_saturated",
                 "client_saturated_reason", "processes", "llm_calls")  # fmt: skip


def run_bench(url: str, users: int, duration: str, processes: str | None, out: Path) -> dict:
    run_id = f"fidelity-u{users}"
    argv = [sys.executable, "-m", "bench", "run", "--endpoint", url, "--model", "fake",
            "--users", str(users), "--duration", duration, "--results-dir", str(out),
            "--run-id", run_id, "--evalset", "evalsets/weather_time"]  # fmt: skip
    if processes:
        argv += ["--processes", processes]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"bench run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    import pandas as pd

    row = pd.read_parquet(out / run_id / "summary.parquet").iloc[0].to_dict()
    return {k: row.get(k) for k in BENCH_COLUMNS}


def run_peer(url: str, users: int, prompts: int, vllm_python: Path, tokenizer: Path) -> dict:
    argv = [str(vllm_python), "-c", _PEER, "--backend", "openai-chat", "--base-url", url,
            "--endpoint", "/v1/chat/completions", "--model", "fake", "--tokenizer", str(tokenizer),
            "--dataset-name", "random", "--random-input-len", "32",
            "--random-output-len", str(TOKENS), "--num-prompts", str(prompts),
            "--max-concurrency", str(users), "--request-rate", "inf", "--disable-tqdm",
            "--percentile-metrics", "ttft,tpot,itl,e2el"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("PEER_RESULT "):
            return json.loads(line[len("PEER_RESULT ") :])
    raise SystemExit(f"vllm bench serve failed ({proc.returncode}):\n{proc.stderr[-2000:]}")


def _verdict(measured: object, truth: float, users: int, reason: object) -> str:
    """Against the truth, or flagged with its reason."""
    if not isinstance(measured, float) or measured != measured:
        return "no data"
    tolerance = 2.0 + 0.03 * truth if users == 1 else 0.10 * truth
    if abs(measured - truth) <= tolerance:
        return "ok" + (" (flagged)" if reason else "")
    if reason:
        return f"flagged: {reason}"
    return f"OFF ({measured - truth:+.1f} ms, tolerance {tolerance:.1f} ms)"


def _truths(got: dict, ttft_ms: float, itl_ms: float, hidden: int) -> dict[str, float]:
    """What the server did over the run by its own clock (set delays plus overshoot); the set
    delays where it kept no count. The fake server sleeps a tool-call reply's hold-back in one
    sleep, so that overshoots once: as much as one inter-token sleep does (its time per token
    minus the set delay)."""
    ttft = got.get("server_ttft_mean_ms")
    per_token = got.get("server_tpot_mean_ms")
    ttft = ttft if isinstance(ttft, float) and ttft == ttft else ttft_ms
    per_token = per_token if isinstance(per_token, float) and per_token == per_token else itl_ms
    holdback = hidden * itl_ms + max(0.0, per_token - itl_ms)
    return {"text": ttft, "tool": ttft + holdback, "holdback": holdback}


def _f(value: object) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.1f}"
    return "-" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", default="1,4,12,32", help="comma-separated user counts")
    p.add_argument("--ttft-ms", type=float, default=50.0)
    p.add_argument("--itl-ms", type=float, default=10.0)
    p.add_argument("--tool-name-tokens", type=int, default=6,
                   help="tool-call replies: tokens held back before the first delta")  # fmt: skip
    p.add_argument("--duration", default="30s", help="of each bench run")
    p.add_argument("--processes", default="auto", help="bench run --processes (a number or auto)")
    p.add_argument("--prompts-per-user", type=int, default=20, help="peer: requests per user")
    p.add_argument("--no-peer", action="store_true", help="skip `vllm bench serve`")
    p.add_argument("--vllm-python", type=Path, default=ROOT / ".venv-vllm" / "bin" / "python")
    args = p.parse_args(argv)
    users_list = [int(u) for u in args.users.split(",") if u.strip()]
    hidden_ms = args.tool_name_tokens * args.itl_ms
    truth = {"text": args.ttft_ms, "tool": args.ttft_ms + hidden_ms}

    rows = []
    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
        out = Path(tmp)
        tokenizer = None
        if not args.no_peer:
            from bench.models.tiny import build_tiny_model

            tokenizer = build_tiny_model(out / "tiny")
        knobs = {"ttft_ms": args.ttft_ms, "itl_ms": args.itl_ms, "tokens": TOKENS,
                 "tool_name_tokens": args.tool_name_tokens}  # fmt: skip
        with running_fake_server(**knobs) as url:  # type: ignore[arg-type]
            for users in users_list:
                got = run_bench(url, users, args.duration, args.processes, out)
                peer = None
                if tokenizer is not None:
                    peer = run_peer(url, users, users * args.prompts_per_user,
                                    args.vllm_python, tokenizer)  # fmt: skip
                rows.append((users, got, peer))
                print(f"users={users} bench={got} peer={peer}", file=sys.stderr, flush=True)

    print(f"\nset: text TTFT {truth['text']:.1f} ms, tool-call TTFT {truth['tool']:.1f} ms "
          f"(parser hold-back {hidden_ms:.1f} ms), TPOT and ITL {args.itl_ms:.1f} ms "
          f"({TOKENS}-token text replies); truth: what the server did by its own clock")  # fmt: skip
    print("| users | processes | truth TTFT text / tool-call | bench TTFT text / tool-call "
          "| `vllm bench serve` TTFT | hold-back (truth) | TPOT text / tool-call | ITL p50 "
          "| `vllm bench serve` TPOT / ITL | pull delay p90 | saturated | text TTFT "
          "| tool-call TTFT |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    reasons = []
    for users, got, peer in rows:
        peer = peer or {}
        real = _truths(got, args.ttft_ms, args.itl_ms, args.tool_name_tokens)
        reason = got["client_saturated_reason"] if got["client_saturated"] else None
        if reason:
            reasons.append(f"{users} users: {reason}")
        verdicts = [_verdict(got[f"ttft_{k}_p50_ms"], real[k], users, reason)
                    for k in ("text", "tool")]  # fmt: skip
        print(f"| {users} | {_f(got['processes'])} | {_f(real['text'])} / {_f(real['tool'])} "
              f"| {_f(got['ttft_text_p50_ms'])} / {_f(got['ttft_tool_p50_ms'])} "
              f"| {_f(peer.get('median_ttft_ms'))} "
              f"| {_f(got['tool_holdback_p50_ms'])} ({_f(real['holdback'])}) "
              f"| {_f(got['tpot_text_p50_ms'])} / {_f(got['tpot_tool_p50_ms'])} "
              f"| {_f(got['itl_p50_ms'])} "
              f"| {_f(peer.get('median_tpot_ms'))} / {_f(peer.get('median_itl_ms'))} "
              f"| {_f(got['pull_delay_p90_ms'])} | {'yes' if got['client_saturated'] else 'no'} "
              f"| {verdicts[0]} | {verdicts[1]} |")  # fmt: skip
    for line in reasons:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
