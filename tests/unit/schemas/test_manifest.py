"""The manifest's keys are declared: a misspelt key is refused when writing, while a file of an
older bench (keys this one no longer declares) still reads and keeps those keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bench.schemas.manifest import (
    Manifest,
    ManifestFields,
    SummaryInfo,
    read_manifest,
    update_manifest,
    write_manifest,
)
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus


@pytest.fixture
def run_dir(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    write_manifest(run, Manifest(run_id="r"))
    return run


def test_a_misspelt_key_is_refused(run_dir: RunDir) -> None:
    fields: dict[str, Any] = {"stauts": RunStatus.COMPLETED}  # as a caller mypy cannot check
    with pytest.raises(ValueError, match="manifest: no field stauts"):
        update_manifest(run_dir, **fields)
    assert read_manifest(run_dir).status is RunStatus.RUNNING  # the file is unchanged
    with pytest.raises(ValidationError, match="stauts"):
        Manifest.model_validate({"run_id": "r", "stauts": "completed"})
    with pytest.raises(ValidationError, match="user"):
        SummaryInfo.model_validate({"user": 3})


def test_an_update_is_validated_and_written(run_dir: RunDir) -> None:
    info = SummaryInfo(users=4)
    update_manifest(run_dir, status=RunStatus.COMPLETED, summary_info=info, counts={"turns": 2})
    back = read_manifest(run_dir)
    assert (back.status, back.summary_info.users, back.counts) == (
        RunStatus.COMPLETED,
        4,
        {"turns": 2},
    )
    with pytest.raises(ValidationError):
        update_manifest(run_dir, status="finished")  # type: ignore[arg-type]


def test_an_older_file_reads_and_keeps_its_undeclared_keys(run_dir: RunDir) -> None:
    old = json.loads(run_dir.manifest.read_text())
    old["retired_key"] = {"kept": True}
    old["summary_info"]["retired_info"] = 7
    run_dir.manifest.write_text(json.dumps(old))
    manifest = read_manifest(run_dir)
    assert manifest.unknown == {"retired_key": {"kept": True}}
    assert manifest.summary_info.model_dump()["retired_info"] == 7  # still in the summary row
    update_manifest(run_dir, message="rebuilt")
    again = json.loads(run_dir.manifest.read_text())
    assert again["retired_key"] == {"kept": True}
    assert again["summary_info"]["retired_info"] == 7
    assert again["message"] == "rebuilt"


def test_the_typed_fields_are_the_manifests() -> None:
    """`ManifestFields` (what mypy checks an update against) lists exactly Manifest's fields."""
    assert set(ManifestFields.__annotations__) == set(Manifest.model_fields)


def test_the_load_settings_travel_whole_and_come_back_equal(run_dir: RunDir) -> None:
    """Every declared load setting is in a step's manifest (provenance.load, the step's own), a
    new one (--max-tokens) included, with no line of manifest code written for it."""
    from bench.cli.config_flags import run_config_from_flags
    from bench.runner.run_folder import create_step_folder
    from bench.schemas.config import LoadConfig

    load = run_config_from_flags({"max_tokens": 9, "users": "2", "drain": "5s"}).load
    step_dir = create_step_folder(run_dir, 0, load)
    stored = json.loads(step_dir.manifest.read_text())["provenance"]["load"]
    assert (stored["max_tokens"], stored["users"], stored["drain_s"]) == (9, 2, 5.0)
    assert LoadConfig.model_validate(read_manifest(step_dir).provenance["load"]) == load
