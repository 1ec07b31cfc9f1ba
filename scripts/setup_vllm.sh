#!/usr/bin/env bash
# Make the vLLM server environment beside the repo with `bench setup-vllm`, which holds the
# install logic (the same command makes one in the user cache for a bench installed from a wheel).
#
#   scripts/setup_vllm.sh            # .venv-vllm/ beside the repo (or $BENCH_VLLM_VENV)
#   BENCH_VLLM_FLAVOR=cpu|cuda ...   # force a flavour (default: cuda when nvidia-smi sees a GPU)
#   BENCH_PYTHON=python3.12 ...      # interpreter for the new virtualenv (default: bench's)
#
# Idempotent: when the environment already has the wanted vLLM it changes nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$root/.venv/bin/python" ]; then
  echo "setup_vllm: no bench environment in $root/.venv; run scripts/setup.sh (it calls this)" >&2
  exit 2
fi
args=(setup-vllm --venv "${BENCH_VLLM_VENV:-$root/.venv-vllm}")
if [ -n "${BENCH_VLLM_FLAVOR:-}" ]; then args+=(--flavor "$BENCH_VLLM_FLAVOR"); fi
if [ -n "${BENCH_PYTHON:-}" ]; then args+=(--python "$BENCH_PYTHON"); fi
exec "$root/.venv/bin/python" -m bench "${args[@]}"
