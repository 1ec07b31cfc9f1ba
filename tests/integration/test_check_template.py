"""`bench models check-template` against the real tokenizers (Qwen, Gemma 3, Llama 3.1, Mistral).

The reference is always the official template in the fetched tokenizer; Gemma 3's and Llama
3.1's ignore tools, so there only the tool-free turns are compared and the tool parts checked.

The tokenizers come from the package registries at set-up (`scripts/setup.sh` runs
`bench models fetch-tokenizers`); these tests never download. Rendering runs in the vLLM
environment. Each check takes ~30-60 s on 2 cores (transformers and vLLM imports).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.models.catalog import TEMPLATES_DIR
from bench.models.real_tokenizers import is_fetched
from bench.schemas.errors import BenchError
from bench.schemas.settings import settings
from bench.server.environment import find_vllm_python

BENCH = [sys.executable, "-m", "bench"]


def _needs(family: str | None) -> None:
    try:
        find_vllm_python()
    except BenchError as exc:
        pytest.skip(str(exc))
    if family and not is_fetched(settings().cache_dir, family):
        message = f"the {family} tokenizer is not cached: run `bench models fetch-tokenizers`"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI's set-up must have fetched it)")
        pytest.skip(message)


def _check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*BENCH, "models", "check-template", *args], capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("qwen3-4b-instruct", "qwen3"),
        ("smollm2-135m", "qwen2_5"),  # qwen2_5_tools.jinja: the package's template, unchanged
        ("gemma-3-4b-it", "gemma3"),
        ("llama-3.1-8b-instruct", "llama3_1"),
        ("mistral-7b-instruct", None),  # mistral-common's files, inside the vLLM environment
    ],
)
def test_catalog_templates_match_their_references(model: str, family: str | None) -> None:
    _needs(family)
    proc = _check(model)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "identical to the reference and complete" in proc.stdout
    if family in ("gemma3", "llama3_1"):  # official templates without tools
        assert "compared byte for byte: plain_prompt, plain_answer" in proc.stdout
        assert "tool parts checked: prompt_before_call, one_call, two_parallel_calls" in proc.stdout
    else:
        assert "compared byte for byte: prompt_before_call, one_call" in proc.stdout
    if model.startswith("llama"):
        # llama3_json has no parallel calls: both templates refuse two calls in one reply.
        assert "two_parallel_calls: refused" in proc.stdout


def _own_gemma(tmp_path: Path, old: str, new: str) -> Path:
    """A catalog with one entry: the project's Gemma 3 template with one edit."""
    source = (TEMPLATES_DIR / "gemma3_pythonic_tools.jinja").read_text()
    assert old in source
    template = tmp_path / "edited.jinja"
    template.write_text(source.replace(old, new))
    catalog = tmp_path / "models.toml"
    catalog.write_text(
        '[models.own-gemma]\nhf_id = "google/gemma-3-4b-it"\ntool_parser = "pythonic"\n'
        f'chat_template = "{template}"\ntemplate_family = "gemma3"\n'
    )
    return catalog


def test_a_turn_that_differs_from_the_official_template_is_a_diff(tmp_path: Path) -> None:
    """One newline instead of two after the system text: the official template has two."""
    _needs("gemma3")
    catalog = _own_gemma(tmp_path, "text_of(messages[0]['content']) + '\\n\\n'",
                         "text_of(messages[0]['content']) + '\\n'")  # fmt: skip
    proc = _check("own-gemma", "--catalog", str(catalog))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "DIFFERENT: plain_prompt" in proc.stdout and "DIFFERENT: plain_answer" in proc.stdout
    assert "\n-\n" in proc.stdout  # the official template's empty line, missing in the edit


def test_a_call_the_parser_cannot_read_is_a_problem(tmp_path: Path) -> None:
    """Calls rendered without the list's opening bracket: the pythonic parser reads only a list.
    The tool-free turns still match the official template."""
    _needs("gemma3")
    catalog = _own_gemma(tmp_path, "{{- '[' -}}", "")
    proc = _check("own-gemma", "--catalog", str(catalog))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "DIFFERENT" not in proc.stdout
    assert """PROBLEM: one_call: the rendering lacks '[get_weather(city="Paris")]'""" in proc.stdout


def test_a_template_that_drops_tools_is_a_problem(tmp_path: Path) -> None:
    """Llama 3.1's official template (as shipped with the tokenizer) ignores `tools`."""
    _needs("llama3_1")
    catalog = tmp_path / "models.toml"
    catalog.write_text(
        '[models.plain-llama]\nhf_id = "meta-llama/Llama-3.1-8B-Instruct"\n'
        'tool_parser = "llama3_json"\ntemplate_family = "llama3_1"\n'
    )
    proc = _check("plain-llama", "--catalog", str(catalog))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "PROBLEM: one_call: the rendering lacks 'get_weather'" in proc.stdout
    assert (
        "PROBLEM: one_call: the JSON schema of get_weather is not in the rendering" in proc.stdout
    )
    assert "DIFFERENT" not in proc.stdout  # the catalog template *is* the official one
