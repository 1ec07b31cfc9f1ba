"""bench.compat.gate: a library outside the tested versions turns its patches off, the library's
own path runs, and one line says so. In process: the installed versions are faked."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from collections.abc import Iterator

import pytest

from bench import constants
from bench.compat import a2a_import, gate, lean_stream, litellm_logging, strict_stream


@pytest.fixture
def fresh_gate() -> Iterator[None]:
    """The gate unchecked, and the process as it was afterwards (the patches a test applied
    undone; the next use checks again, with the real versions)."""
    gate.reset()
    a2a_cached = sys.modules.get(a2a_import.A2A_MODULE, False) is None
    yield
    lean_stream.enable(False)
    litellm_logging.restore()
    if a2a_cached:
        sys.modules[a2a_import.A2A_MODULE] = None  # type: ignore[assignment]
    else:
        a2a_import.forget()
    gate.reset()


def fake_versions(monkeypatch: pytest.MonkeyPatch, **versions: str) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        return versions.get(name.replace("-", "_")) or real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)


def test_the_installed_libraries_pass_without_a_word(
    fresh_gate: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # check() looks at the patches of the libraries imported (it imports none): all but Locust's
    import anyio  # noqa: F401
    import gevent  # noqa: F401
    import google.adk  # noqa: F401
    import litellm  # noqa: F401

    verdicts = gate.check()
    assert set(verdicts) == set(gate.PATCH_MODULES) - {"csv_writer_guard"}
    assert all(verdicts.values())
    assert capsys.readouterr().err == ""


def test_a_newer_litellm_turns_off_its_patches_in_one_line(
    fresh_gate: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gevent  # noqa: F401  (so the real locks, which touch LiteLLM too, are checked)
    from litellm.llms.base_llm.base_model_iterator import BaseModelResponseIterator

    fake_versions(monkeypatch, litellm="1.200.0")
    parser = BaseModelResponseIterator.__dict__["_string_to_dict_parser"]
    assert lean_stream.enable() is False
    assert litellm_logging.skip_unread_cost() is False
    strict_stream.install()
    assert BaseModelResponseIterator.__dict__["_string_to_dict_parser"] is parser  # untouched
    assert a2a_import.skip_missing_a2a()  # another library's patch is independent
    err = capsys.readouterr().err
    assert err == (
        "bench: litellm 1.200.0 is newer than tested (<1.111): lean streaming, lean logging, "
        "strict stream parsing, real locks off, falling back to LiteLLM's own path "
        "(without real locks, a ParallelAgent's first turn can hang)\n"
    )


def test_an_older_adk_keeps_its_import_as_adk_does_it(
    fresh_gate: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_versions(monkeypatch, google_adk="2.12.1")
    a2a_import.forget()
    assert a2a_import.skip_missing_a2a() is False
    assert a2a_import.A2A_MODULE not in sys.modules  # ADK's own import, every turn
    assert lean_stream.enable() is True  # LiteLLM's patches stay on
    assert capsys.readouterr().err == (
        "bench: google-adk 2.12.1 is older than tested (>=2.13): the cached a2a import off, "
        "falling back to ADK's own path\n"
    )


def test_a_correctness_fix_turned_off_says_what_it_risks(
    fresh_gate: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gevent  # noqa: F401
    import litellm  # noqa: F401

    fake_versions(monkeypatch, pydantic="3.0.0")
    verdicts = gate.check()
    assert not verdicts["real_locks"] and verdicts["lean_stream"]
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "bench: pydantic 3.0.0 is newer than tested (<3): real locks off, falling back to "
        "pydantic's own path (without real locks, a ParallelAgent's first turn can hang)"
    ]


def test_the_tested_range_is_what_pyproject_allows() -> None:
    """litellm and google-adk are capped at the tested minor in pyproject.toml too."""
    project = tomllib.loads((constants.REPO_ROOT / "pyproject.toml").read_text())
    requirements = {r.split(">=")[0].split("[")[0]: r for r in project["project"]["dependencies"]}
    for library in ("litellm", "google-adk"):
        low, high = gate.TESTED[library]
        assert f">={low}" in requirements[library] and f"<{high}" in requirements[library]
