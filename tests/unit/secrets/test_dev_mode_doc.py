"""docs/reliability-and-security.md's table of vLLM dev-mode routes matches the installed vLLM (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _vllm_dir() -> Path | None:
    for site in sorted((ROOT / ".venv-vllm" / "lib").glob("python3*/site-packages/vllm")):
        return site
    return None


def test_every_dev_mode_route_is_documented() -> None:
    vllm = _vllm_dir()
    if vllm is None:
        pytest.skip("no .venv-vllm here")
    routers = vllm / "entrypoints" / "launchers" / "api_server" / "routers.py"
    assert "register_vllm_dev_api_routers" in routers.read_text()  # what dev mode turns on
    files = [*(vllm / "entrypoints" / "serve" / "dev").glob("*/api_router.py")]
    files.append(vllm / "entrypoints" / "rl" / "online" / "api_router.py")
    routes = {
        m.group(1)
        for f in files
        for m in re.finditer(r'@router\.(?:get|post|put|delete)\("([^"]+)"', f.read_text())
    }
    assert "/reset_prefix_cache" in routes and len(routes) > 10
    readme = (ROOT / "docs" / "reliability-and-security.md").read_text()
    section = readme.split("vLLM's development mode", 1)[1].split("\n## ", 1)[0]
    missing = sorted(r for r in routes if f"`{r}`" not in section and f" {r}`" not in section)
    assert not missing, (
        f"docs/reliability-and-security.md does not list these dev-mode routes: {missing}"
    )
