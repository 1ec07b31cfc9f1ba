"""How close are bench's client TTFT, TPOT and ITL to the truth, per reply kind, beside
`vllm bench serve`'s?

The fake server streams with a known TTFT and inter-token delay (default 50 ms and 10 ms, fixed
reply length), counted from when the server has the request (its own work comes out of the
TTFT), so the true TTFT is that TTFT plus the sleep's overshoot (under a millisecond) and the true
TPOT and ITL are the inter-token delay. A tool-call reply also holds back `--tool-name-tokens`
tokens before its first delta (default 6), as vLLM's tool parsers do: its true TTFT is TTFT +
6 x ITL and its parser hold-back 6 x ITL. For each user count (default 1, 4, 12, 32) this runs
`bench run --endpoint <fake server> --model fake` (default `--processes auto`) and, as the peer,
`vllm bench serve` (openai-chat backend, random prompts, `--max-concurrency` = users; text
replies only: its TTFT of a tool-call reply would be the role chunk, before the hold-back)
against the same server, and prints bench's figures per reply kind against the truth, the
peer's against the truth, and bench's `client_saturated` with its reason.

Targets: every point within 10 % of the truth (at 1 user: 2 ms + 3 %), or flagged saturated with
the reason (a saturated client measures its own queueing, not the server). Where the fake server
itself is late (on a small machine it shares the cores with the load), the peer reads late too;
the verdict then asks that bench read no later than the truth plus the peer's lateness plus the
tolerance (and not early), and says so.

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
                 "client_cpu_mean_pct", "server_ttft_mean_ms", "client_saturated",
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


def _verdict(measured: object, truth: float, users: int, reason: object,
             peer_late_ms: float | None = None) -> str:  # fmt: skip
    """Against the truth; where the server itself was late (the peer misses the truth by more
    than the tolerance too: a CPU-starved fake server), bench may read as late as the truth plus
    the peer's lateness plus the tolerance (between the truth and the peer is closer to the
    truth than vLLM's own benchmark), and the verdict says so. A flagged run names its reason."""
    if not isinstance(measured, float) or measured != measured:
        return "no data"
    tolerance = 2.0 + 0.03 * truth if users == 1 else 0.10 * truth
    if abs(measured - truth) <= tolerance:
        return "ok" + (f" (flagged: {reason})" if reason else "")
    if reason:
        return f"flagged: {reason}"
    late = peer_late_ms is not None and peer_late_ms > tolerance
    if (
        late
        and peer_late_ms is not None
        and -tolerance <= measured - truth <= peer_late_ms + tolerance
    ):
        return (f"ok against the peer (server late: the peer reads {peer_late_ms:+.1f} ms, "
                f"bench {measured - truth:+.1f} ms)")  # fmt: skip
    return f"OFF ({measured - truth:+.1f} ms, tolerance {tolerance:.1f} ms)"


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

    print(f"\ntruth: text TTFT {truth['text']:.1f} ms, tool-call TTFT {truth['tool']:.1f} ms "
          f"(parser hold-back {hidden_ms:.1f} ms), TPOT and ITL {args.itl_ms:.1f} ms "
          f"({TOKENS}-token text replies)")  # fmt: skip
    print("| users | processes | bench TTFT text / tool-call | hold-back | TPOT text / tool-call "
          "| ITL p50 | `vllm bench serve` TTFT / TPOT / ITL | server TTFT mean | pull delay p90 "
          "| saturated | text TTFT | tool-call TTFT |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for users, got, peer in rows:
        peer = peer or {}
        peer_ttft = peer.get("median_ttft_ms")
        late = peer_ttft - truth["text"] if isinstance(peer_ttft, float) else None
        reason = got["client_saturated_reason"] if got["client_saturated"] else None
        verdicts = [_verdict(got[f"ttft_{k}_p50_ms"], truth[k], users, reason, late)
                    for k in ("text", "tool")]  # fmt: skip
        print(f"| {users} | {_f(got['processes'])} "
              f"| {_f(got['ttft_text_p50_ms'])} / {_f(got['ttft_tool_p50_ms'])} "
              f"| {_f(got['tool_holdback_p50_ms'])} "
              f"| {_f(got['tpot_text_p50_ms'])} / {_f(got['tpot_tool_p50_ms'])} "
              f"| {_f(got['itl_p50_ms'])} "
              f"| {_f(peer_ttft)} / {_f(peer.get('median_tpot_ms'))} / {_f(peer.get('median_itl_ms'))} "
              f"| {_f(got['server_ttft_mean_ms'])} | {_f(got['pull_delay_p90_ms'])} "
              f"| {'yes' if got['client_saturated'] else 'no'} | {verdicts[0]} | {verdicts[1]} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
