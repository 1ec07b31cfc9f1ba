"""Soak: a long run against a real vLLM (or the fake server); memory must stay flat, no errors.

    .venv/bin/python benchmarks/soak.py --server vllm --duration 600 --users 4

Starts the server itself (`bench serve --model tiny`, or `bench fake-server` with
`--server fake`) so it stays up after the load and its KV cache can be read once the load is
over, then runs `bench run --endpoint ...` against it. Every `--sample-s` seconds it samples:
the resident memory of the load processes (Locust tree under `bench run`), the server's whole
process tree (API server, EngineCore, workers), and `vllm:kv_cache_usage_perc` from /metrics.
It prints the figures at 60 s and at the end, the KV usage before and after the load, and the
run's error count from summary.parquet.

Targets (exit code 1 when missed): RSS growth from 60 s to the end under `--max-growth-pct`
(5 %) for both the load processes and the server, KV usage back to its baseline (within 0.01)
after the load, 0 errors.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pyarrow.parquet as pq

KV_RE = re.compile(r"^vllm:kv_cache_usage_perc\{[^}]*\}\s+(\S+)", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss_mib(root: psutil.Process, match: str | None = None) -> float | None:
    """RSS of root's process tree (root included), or only of processes whose cmdline has `match`."""
    total, found = 0, False
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    for proc in procs:
        try:
            if match is None or match in " ".join(proc.cmdline()):
                total += proc.memory_info().rss
                found = True
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return total / 2**20 if found else None


def kv_usage(base: str) -> float | None:
    try:
        text = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    found = KV_RE.search(text)
    return float(found.group(1)) if found else None


def start_server(kind: str, port: int, key_env: str, out: Path) -> tuple[subprocess.Popen, str]:
    if kind == "vllm":
        cmd = [sys.executable, "-m", "bench", "serve", "--model", "tiny", "--port", str(port),
               "--api-key-env", key_env, "--log-file", str(out / "server.log")]  # fmt: skip
        name = "tiny"
    else:
        cmd = [sys.executable, "-m", "bench", "fake-server", "--port", str(port),
               "--api-key-env", key_env, "--served-model-name", "fake", "--itl-ms", "5"]  # fmt: skip
        name = "fake"
    log = (out / "serve.out").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"soak: the server exited; see {out / 'serve.out'}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, name
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("soak: the server was not ready in 600 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def growth_pct(
    samples: list[tuple[float, float]],
) -> tuple[tuple[float, float], tuple[float, float], float]:
    # From 60 s on: imports, caches and the first sessions grow memory legitimately before that.
    steady = [s for s in samples if s[0] >= 60] or samples
    first, last = steady[0], steady[-1]
    return first, last, 100 * (last[1] - first[1]) / first[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", choices=("vllm", "fake"), default="vllm")
    parser.add_argument("--duration", type=int, default=600)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--max-growth-pct", type=float, default=5)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="soak-"))
    key_env = "SOAK_API_KEY"
    os.environ[key_env] = secrets.token_urlsafe(16)
    port = free_port()
    t0 = time.monotonic()
    server, served = start_server(args.server, port, key_env, out)
    base = f"http://127.0.0.1:{port}"
    print(f"soak: {args.server} ready on {base} in {time.monotonic() - t0:.0f} s; folder {out}")
    server_ps = psutil.Process(server.pid)
    try:
        time.sleep(2)
        kv_before = kv_usage(base)
        cmd = [sys.executable, "-m", "bench", "run", "--endpoint", base, "--api-key-env", key_env,
               "--model", served, "--users", str(args.users), "--duration", f"{args.duration}s",
               "--results-dir", str(out), "--run-id", "soak"]  # fmt: skip
        print("soak:", " ".join(cmd), flush=True)
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        root = psutil.Process(child.pid)
        load: list[tuple[float, float]] = []
        srv: list[tuple[float, float]] = []
        kv_peak = 0.0
        started = time.monotonic()
        while child.poll() is None:
            t = time.monotonic() - started
            rss, srss, kv = tree_rss_mib(root, "locust"), tree_rss_mib(server_ps), kv_usage(base)
            if rss is not None and srss is not None:
                load.append((t, rss))
                srv.append((t, srss))
                kv_peak = max(kv_peak, kv or 0.0)
                print(f"  t={t:6.0f} s  load RSS {rss:7.1f} MiB  server RSS {srss:7.1f} MiB  "
                      f"KV {kv if kv is not None else float('nan'):.4f}", flush=True)  # fmt: skip
            time.sleep(args.sample_s)
        output = child.stdout.read() if child.stdout else ""
        time.sleep(3)  # let the last requests finish and free their blocks
        kv_after = kv_usage(base)
        srv_end = tree_rss_mib(server_ps)
    finally:
        stop(server)
    print(output[-2500:])
    summary = pq.read_table(out / "soak" / "summary.parquet").to_pylist()[0]
    ok = child.returncode == 0 and summary["errors"] == 0
    for label, samples in (("load-process RSS", load), ("server RSS (tree)", srv)):
        first, last, pct = growth_pct(samples)
        print(f"{label}: {first[1]:.1f} MiB at {first[0]:.0f} s -> {last[1]:.1f} MiB at "
              f"{last[0]:.0f} s ({last[1] - first[1]:+.1f} MiB, {pct:+.1f} %)")  # fmt: skip
        ok = ok and pct <= args.max_growth_pct
    print(f"server RSS after the load: {srv_end or float('nan'):.1f} MiB")
    print(f"KV cache usage: before {kv_before}, peak {kv_peak:.4f}, after {kv_after}")
    if kv_before is not None and kv_after is not None:
        ok = ok and kv_after <= kv_before + 0.01
    print(f"sessions {summary['sessions']}, turns {summary['turns']}, errors {summary['errors']}, "
          f"turns/s {summary['turns_per_s']:.2f}, exit code {child.returncode}")  # fmt: skip
    print("soak:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
