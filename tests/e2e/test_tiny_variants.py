"""The tiny model in every parser format, each on a real vLLM (CPU) with its catalog parser.

For tiny-pythonic, tiny-llama3-json and tiny-mistral: every script case comes back exactly
through vLLM's own parser (streaming and not), a two-call turn is answered after its tool
results, and a short `bench run` on weather_time (streaming and not, every case once) scores
EXACT / IN_ORDER / ANY_ORDER as the script implies, which is what `tiny` (hermes) scores too.
One server per variant: the parametrized fixture is module-scoped, so pytest runs all tests of
one variant before starting the next server.

Known vLLM 0.32 limit, not worked around: the llama3_json streaming parser drops a call whose
complete JSON arrives in the first delta (it only sends the name on a later delta). vLLM merges
deltas when the API server falls behind, which happened here once at a load average of ~15 on 2
cores; the streaming run for tiny-llama3-json then misses that call.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from bench.evalset import load_evalset
from bench.models.catalog import BUILTIN_MODELS
from bench.models.tiny import TINY_CASES
from bench.models.tiny_script import TinyCase, case_by_name
from bench.server.process import Endpoint
from tests.e2e.conftest import served
from tests.e2e.test_run import expected_invocations, implied_calls
from tests.e2e.test_tiny_model import assert_reply, complete, request_for, stream

pytestmark = pytest.mark.e2e

VARIANTS = ("tiny-pythonic", "tiny-llama3-json", "tiny-mistral")
MATCHES = ("exact", "in_order", "any_order")


@pytest.fixture(scope="module", params=VARIANTS)
def variant_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Endpoint]]:
    with served(tmp_path_factory, request.param) as endpoint:
        yield request.param, endpoint


@pytest.fixture(scope="module")
def client(variant_server: tuple[str, Endpoint]) -> Iterator[httpx.Client]:
    _, endpoint = variant_server
    headers = endpoint.auth_headers()
    with httpx.Client(base_url=endpoint.base_url, headers=headers, timeout=120) as c:
        yield c


def body_for(name: str, case: TinyCase) -> dict:
    return {**request_for(case), "model": name, "temperature": 1.0}


# --------------------------------------------------------------------------- expectations


def _matches(actual: list[dict], expected: list[dict]) -> dict[str, float]:
    """ADK's trajectory match types: EXACT, IN_ORDER (a subsequence), ANY_ORDER (a subset)."""
    it = iter(actual)
    in_order = all(any(a == e for a in it) for e in expected)
    remaining = list(actual)
    any_order = True
    for e in expected:
        if e in remaining:
            remaining.remove(e)
        else:
            any_order = False
    return {
        "exact": float(actual == expected),
        "in_order": float(in_order),
        "any_order": float(any_order),
    }


def implied_scores() -> dict[tuple[str, int], dict[str, float]]:
    """Per (case, invocation) of weather_time: the three scores the script's calls earn."""
    return {
        key: _matches(implied_calls(text), expected)
        for key, text, expected in expected_invocations()
    }


# --------------------------------------------------------------------------- tests


def test_catalog_entry_matches_the_built_variant(variant_server: tuple[str, Endpoint]) -> None:
    from bench.models.tiny_variants import TINY_VARIANTS

    name, _ = variant_server
    assert BUILTIN_MODELS[name].tool_parser == TINY_VARIANTS[name].tool_parser


@pytest.mark.parametrize("case", TINY_CASES, ids=lambda c: c.name)
def test_every_case_through_the_parser(
    variant_server: tuple[str, Endpoint], client: httpx.Client, case: TinyCase
) -> None:
    name, _ = variant_server
    assert_reply(complete(client, body_for(name, case)), case)
    # No check on the number of chunks: a busy server merges deltas (see the llama3_json note).
    assert_reply(stream(client, body_for(name, case)), case)


def test_two_calls_then_the_answer(
    variant_server: tuple[str, Endpoint], client: httpx.Client
) -> None:
    """Replay a two-call reply with the ids vLLM gave it: the family template renders it back."""
    name, _ = variant_server
    first = case_by_name("madrid_time_and_weather")
    body = body_for(name, first)
    reply = complete(client, body)
    assert_reply(reply, first)
    assert reply.raw_calls and len({c["id"] for c in reply.raw_calls}) == 2
    messages = [
        *body["messages"],
        {"role": "assistant", "content": None, "tool_calls": reply.raw_calls},
        *(
            {"role": "tool", "tool_call_id": c["id"], "content": '{"status": "success"}'}
            for c in reply.raw_calls
        ),
    ]
    # The last result answers get_weather, so the script gives the weather answer.
    for send in (complete, stream):
        assert_reply(send(client, {**body, "messages": messages}), case_by_name("weather_answer"))


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "no-stream"])
def test_bench_run_scores_what_the_script_implies(
    variant_server: tuple[str, Endpoint], tmp_path: Path, streaming: bool
) -> None:
    name, endpoint = variant_server
    n_cases = len(load_evalset("weather_time").cases)
    proc = subprocess.run(
        [
            sys.executable, "-m", "bench", "run", "--endpoint", endpoint.base_url,
            "--api-key-env", "TINY_KEY", "--model", name, "--evalset", "weather_time",
            "--sessions", str(n_cases), "--users", "3", "--results-dir", str(tmp_path),
            "--run-id", "r", *([] if streaming else ["--no-stream"]),
        ],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TINY_KEY": endpoint.api_key or ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "r"
    turns = pq.read_table(run / "turns.parquet").to_pandas()
    summary = pq.read_table(run / "summary.parquet").to_pandas().iloc[0]
    calls = pq.read_table(run / "llm_calls.parquet").to_pandas()
    assert (calls["stream"] == streaming).all()
    measured = turns[~turns["warmup"]]
    implied = implied_scores()
    assert sorted(zip(measured["case_id"], measured["invocation_index"], strict=True)) == sorted(
        implied
    ), "every case once"
    for match in MATCHES:
        per_turn = {
            (c, i): s
            for c, i, s in zip(
                measured["case_id"],
                measured["invocation_index"],
                measured[f"trajectory_{match}"],
                strict=True,
            )
        }
        assert per_turn == {k: v[match] for k, v in implied.items()}, match
        expected = sum(v[match] for v in implied.values()) / len(implied)
        assert summary[f"tool_trajectory_{match}"] == pytest.approx(expected), match
    assert 0 < summary["tool_trajectory_exact"] < summary["tool_trajectory_any_order"] < 1
