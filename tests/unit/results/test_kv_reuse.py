"""Call classes and the per-class cached-token summary."""

from __future__ import annotations

import pytest

from bench.results.kv_reuse import (
    call_class,
    classify_calls,
    kv_reuse_summary,
    kv_reuse_text,
)
from bench.testing.prefix_cache import PrefixCache


def test_call_class_by_place_in_the_session() -> None:
    assert call_class(0, 0) == "session_start"
    assert call_class(0, 3) == "across_turns"
    assert call_class(1, 0) == "within_turn" and call_class(2, 5) == "within_turn"
    assert call_class(None, 0) is None and call_class(0, None) is None


def _calls(cached: list[int | None]) -> list[dict]:
    turns = [{"turn_id": "t0", "invocation_index": 0}, {"turn_id": "t1", "invocation_index": 1}]
    calls = [
        {"turn_id": "t0", "call_index": 0, "prompt_tokens": 100, "cached_tokens": cached[0]},
        {"turn_id": "t0", "call_index": 1, "prompt_tokens": 200, "cached_tokens": cached[1]},
        {"turn_id": "t1", "call_index": 0, "prompt_tokens": 300, "cached_tokens": cached[2]},
        {"turn_id": "gone", "call_index": 0, "prompt_tokens": 50, "cached_tokens": cached[3]},
    ]
    classify_calls(calls, turns)
    return calls


def test_summary_per_class() -> None:
    calls = _calls([40, 190, 150, 0])
    assert [c["call_class"] for c in calls] == [
        "session_start", "within_turn", "across_turns", None,
    ]  # fmt: skip
    assert [c["invocation_index"] for c in calls] == [0, 0, 1, None]
    row = kv_reuse_summary(calls)
    assert row["cached_tokens_reported"] is True
    assert (row["kv_session_start_calls"], row["kv_within_turn_calls"]) == (1, 1)
    assert row["kv_session_start_cached_fraction"] == pytest.approx(0.4)
    assert row["kv_within_turn_cached_fraction"] == pytest.approx(0.95)
    assert row["kv_across_turns_cached_tokens"] == 150
    assert row["kv_across_turns_prompt_tokens"] == 300
    assert kv_reuse_text(row) == "0.400 / 0.500 / 0.950"


def test_unreported_cached_tokens_stay_null() -> None:
    row = kv_reuse_summary(_calls([None, None, None, None]))
    assert row["cached_tokens_reported"] is False
    assert row["kv_within_turn_cached_fraction"] is None
    assert row["kv_within_turn_cached_tokens"] is None
    assert row["kv_within_turn_prompt_tokens"] == 200
    assert kv_reuse_text(row) == "not reported by the server"
    assert kv_reuse_summary([])["cached_tokens_reported"] is None


def test_fake_prefix_cache_serves_whole_message_prefixes() -> None:
    cache = PrefixCache()
    system = {"role": "system", "content": "s" * 400}
    first = {"tools": [], "messages": [system, {"role": "user", "content": "a" * 40}]}
    assert cache.lookup_and_store(first, 1000) == 0
    # Same system prompt, another user: the tools and the system message are cached.
    other = {"tools": [], "messages": [system, {"role": "user", "content": "b" * 40}]}
    shared = cache.lookup_and_store(other, 1000)
    assert 100 <= shared < 120
    # The tool loop: the whole previous prompt is a prefix.
    loop = {"tools": [], "messages": [*other["messages"], {"role": "tool", "content": "r"}]}
    assert cache.lookup_and_store(loop, 1000) > shared
    assert cache.lookup_and_store(loop, 5) == 5  # never more than the prompt
