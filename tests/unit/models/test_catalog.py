from pathlib import Path

import pytest

from bench.models.catalog import BUILTIN_MODELS, load_catalog, resolve_model
from bench.schemas.errors import BenchError


def test_builtin_entries_cover_the_families():
    parsers = {name: e.tool_parser for name, e in BUILTIN_MODELS.items()}
    assert parsers["gemma-3-4b-it"] == "pythonic"
    assert parsers["llama-3.1-8b-instruct"] == "llama3_json"
    assert parsers["mistral-7b-instruct"] == "mistral"
    assert parsers["qwen2.5-7b-instruct"] == parsers["qwen3-4b-instruct"] == "hermes"
    assert BUILTIN_MODELS["tiny"].builder == "tiny"
    assert BUILTIN_MODELS["gemma-3-4b-it"].hf_id == "google/gemma-3-4b-it"
    assert BUILTIN_MODELS["gemma-3-4b-it"].chat_template_path().exists()
    for entry in BUILTIN_MODELS.values():
        assert entry.max_model_len and entry.dtype


def test_user_toml_adds_and_overrides(tmp_path: Path):
    f = tmp_path / "models.toml"
    f.write_text(
        '[models.my-qwen]\nhf_id = "Qwen/Qwen2.5-3B-Instruct"\ntool_parser = "hermes"\nmax_model_len = 8192\n'
        '[models.tiny]\nbuilder = "tiny"\ntool_parser = "hermes"\nmax_model_len = 1024\n'
    )
    catalog = load_catalog(f)
    assert catalog["my-qwen"].hf_id == "Qwen/Qwen2.5-3B-Instruct"
    assert catalog["my-qwen"].served_model_name == "my-qwen"
    assert catalog["tiny"].max_model_len == 1024
    assert "gemma-3-4b-it" in catalog


def test_catalog_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    f = tmp_path / "m.toml"
    f.write_text('[models.x]\nhf_id = "org/x"\n')
    monkeypatch.setenv("BENCH_CATALOG", str(f))
    assert "x" in load_catalog()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models.bad]\ntool_parser = "hermes"\n', "models.bad"),  # neither hf_id nor builder
        ('[models.bad]\nhf_id = "a/b"\nmax_model_len = -1\n', "models.bad.max_model_len"),
        ('[models.bad]\nhf_id = "a/b"\ncolour = "red"\n', "models.bad.colour"),
        ("[models\n", "invalid TOML"),
    ],
)
def test_bad_entries_name_file_and_field(tmp_path: Path, text: str, message: str):
    f = tmp_path / "models.toml"
    f.write_text(text)
    with pytest.raises(BenchError, match=message) as info:
        load_catalog(f)
    assert str(f) in str(info.value)
    assert "\n" not in str(info.value)


def test_any_hf_id_with_flags():
    entry = resolve_model("org/some-model", BUILTIN_MODELS, tool_parser="hermes")
    assert entry.hf_id == "org/some-model" and entry.tool_parser == "hermes"
    assert entry.served_model_name == "org/some-model"


def test_local_folder_is_served_under_its_name(tmp_path: Path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    entry = resolve_model(str(folder), BUILTIN_MODELS)
    assert entry.served_model_name == "my-model"


def test_unknown_name_is_a_user_error():
    with pytest.raises(BenchError, match="unknown model 'nope'"):
        resolve_model("nope", BUILTIN_MODELS)
