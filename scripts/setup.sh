#!/usr/bin/env bash
# Set up everything bench needs on this machine; safe to run again (a second run changes nothing).
#   1. the bench environment (.venv) from the committed uv.lock, installing uv with pip when missing;
#   2. the vLLM server environment (.venv-vllm), see scripts/setup_vllm.sh.
# BENCH_SKIP_VLLM=1 skips step 2 (e.g. when BENCH_VLLM_PYTHON points at an existing vLLM).
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

"${uv[@]}" sync --frozen --quiet
echo "setup: bench environment ready ($root/.venv)"

if [ "${BENCH_SKIP_VLLM:-0}" != 1 ] && [ -z "${BENCH_VLLM_PYTHON:-}" ]; then
  "$root/scripts/setup_vllm.sh"
fi
