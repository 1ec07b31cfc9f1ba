"""Dict-shaped access to `manifest.json` for callers not yet on the typed `Manifest`.

Every read and write goes through `bench.schemas.manifest` (validated, atomic); new code uses
that module and the model's attributes. Remove this once the runner uses `Manifest` directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.schemas import manifest as typed
from bench.schemas.run_dir import RunDir


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    typed.write_manifest(RunDir(run_dir), typed.Manifest.model_validate(manifest))


def read_manifest(run_dir: Path) -> dict[str, Any]:
    return typed.read_manifest(RunDir(run_dir)).model_dump(mode="json")


def update_manifest(run_dir: Path, **fields: Any) -> dict[str, Any]:
    return typed.update_manifest(RunDir(run_dir), **fields).model_dump(mode="json")
