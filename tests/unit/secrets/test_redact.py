"""redact_url and the refusal of --api-key in engine flags (issue 17)."""

from __future__ import annotations

import pytest

from bench.cli.config_flags import server_config_from_flags
from bench.schemas.errors import BenchError
from bench.schemas.redact import redact_url, redact_urls, split_url_credentials

SECRET = "pl4nted-S3cret"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://bob:{SECRET}@h.example/v1", "https://bob:***@h.example/v1"),
        (f"at http://u:{SECRET}@10.0.0.1:8000 failed", "at http://u:***@10.0.0.1:8000 failed"),
        (f"http://:{SECRET}@h/", "http://:***@h/"),
        (f"http://u:pa@ss{SECRET}@h/x", "http://u:***@h/x"),  # an unescaped @ in the password
        ("http://user@h/v1", "http://user@h/v1"),  # no password, nothing to hide
        ("http://h:8000/v1", "http://h:8000/v1"),
    ],
)
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected


def test_redact_urls_walks_nested_values() -> None:
    data = {"server": {"endpoint": f"http://u:{SECRET}@h/v1"}, "list": [f"ws://a:{SECRET}@b"]}
    assert SECRET not in str(redact_urls(data))
    assert redact_urls(data)["server"]["endpoint"] == "http://u:***@h/v1"


def test_split_url_credentials() -> None:
    assert split_url_credentials("https://bob:p%40ss@h.example:8443/v1?x=1") == (
        "https://h.example:8443/v1?x=1",
        ("bob", "p@ss"),
    )
    assert split_url_credentials("http://h/v1") == ("http://h/v1", None)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("engine_arg", "passthrough"),
    [
        ([f"api-key={SECRET}"], []),
        ([f"api_key={SECRET}"], []),
        ([], ["--api-key", SECRET]),
        ([], [f"--api-key={SECRET}"]),
    ],
)
def test_api_key_engine_flag_is_refused(engine_arg: list[str], passthrough: list[str]) -> None:
    with pytest.raises(BenchError) as info:
        server_config_from_flags({"model": "tiny", "engine_arg": engine_arg}, passthrough)
    assert "--api-key" in str(info.value) and SECRET not in str(info.value)
