"""`--fault` lists and the fault draw: a seed gives the same faults as before lists existed."""

from __future__ import annotations

import random

import pytest

from bench.testing.fake_server import build_parser, config_from_args
from bench.testing.fake_server.faults import draw_fault, parse_faults


def test_fault_lists_are_parsed_and_bad_names_refused() -> None:
    assert parse_faults("length, empty,text-call") == ("length", "empty", "text-call")
    with pytest.raises(ValueError, match="unknown fault 'lenght'"):
        parse_faults("length,lenght")
    args = build_parser().parse_args(["--fault", "finish-error,500", "--fault-log", "f.jsonl"])
    config = config_from_args(args)
    assert (config.fault, config.fault_log) == ("finish-error,500", "f.jsonl")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--fault", "nope"])


def test_one_fault_draws_as_before_and_a_list_draws_among_those_that_fit() -> None:
    old, new = random.Random(7), random.Random(7)
    for tool_call in [True, False] * 50:  # the draw before lists: the rate only
        expected = "stall" if old.random() < 0.3 else None
        assert draw_fault(new, 0.3, ("stall",), tool_call) == expected
    rng = random.Random(1)
    # text replies never get a tool-call-only fault, and draw nothing when none fits
    assert {draw_fault(rng, 1.0, ("text-call", "empty"), False) for _ in range(50)} == {"empty"}
    before = rng.getstate()
    assert draw_fault(rng, 1.0, ("unparsed",), False) is None and rng.getstate() == before
    drawn = {draw_fault(rng, 1.0, ("text-call", "empty"), True) for _ in range(50)}
    assert drawn == {"text-call", "empty"}
