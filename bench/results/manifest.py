"""`manifest.json`: what a run was (config, provenance, criteria) and how it ended (status)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.schemas.redact import redact_urls

MANIFEST = "manifest.json"


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    tmp = run_dir / (MANIFEST + ".tmp")
    text = json.dumps(redact_urls(manifest), indent=2, sort_keys=True, default=str)
    tmp.write_text(text + "\n")
    os.replace(tmp, run_dir / MANIFEST)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"{run_dir}: not a run folder (no {MANIFEST})") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: invalid JSON ({exc.msg})") from None


def update_manifest(run_dir: Path, **fields: Any) -> dict[str, Any]:
    manifest = read_manifest(run_dir)
    manifest.update(fields)
    write_manifest(run_dir, manifest)
    return manifest
