"""Property-based fuzzing of eval-set files (issue 17).

Start from the shipped eval sets, mutate them (drop, retype, null or duplicate fields, unicode,
deep nesting, broken JSON text), and check that `bench evalsets validate` and the run's loading
step (`load_evalset`) answer every input with exit 0, 1 or 2, at most three lines on stderr, no
traceback and no hang. The 10 MB text and the thousands of cases run as subprocesses.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cli.app import main as bench_main
from bench.evalset import load_evalset
from bench.schemas.errors import BenchError
from tests.conftest import FUZZED_INPUTS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "evalsets").glob("*/*.evalset.json"))
BASES = [json.loads(p.read_text()) for p in SHIPPED]
AGENT = ROOT / "evalsets" / "weather_time"
TRIED = {"inputs": 0}
PER_INPUT_TIMEOUT_S = 20

pytestmark = pytest.mark.bad_input

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6
)  # fmt: skip
unicode_text = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60)


def _containers(node: Any, path: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(node, dict):
        out.append(path)
        for k, v in node.items():
            out += _containers(v, (*path, k))
    elif isinstance(node, list):
        out.append(path)
        for i, v in enumerate(node):
            out += _containers(v, (*path, i))
    return out


def _at(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _containers(doc)
        node = _at(doc, draw(st.sampled_from(paths)))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            continue
        key = draw(st.sampled_from(keys))
        op = draw(st.sampled_from(["drop", "retype", "null", "duplicate", "unicode", "nest"]))
        if op == "drop":
            del node[key]
        elif op == "retype":
            node[key] = draw(values)
        elif op == "null":
            node[key] = None
        elif op == "duplicate":
            if isinstance(node, list):
                node.insert(key, copy.deepcopy(node[key]))
            else:
                node[f"{key}"] = copy.deepcopy(node[key])
                node[draw(st.sampled_from([f"{key}_", key.upper(), key.title()]))] = node[key]
        elif op == "unicode":
            node[key] = draw(unicode_text)
        else:
            for _ in range(draw(st.integers(1, 50))):
                node[key] = [node[key]] if draw(st.booleans()) else {"x": node[key]}
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    raw = draw(st.sampled_from(["none", "none", "truncate", "deep", "dup_key", "garbage"]))
    if raw == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif raw == "deep":  # deeper than Python's recursion limit
        depth = draw(st.integers(500, 200_000))
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    elif raw == "dup_key":
        text = text.replace('"eval_cases":', '"eval_cases": [], "eval_cases":', 1)
    elif raw == "garbage":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=10)) + text[at:]
    return text


@contextlib.contextmanager
def time_limit(seconds: int):
    def hung(*_: Any) -> None:
        raise TimeoutError(f"no answer in {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def validate_in_process(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            bench_main(["evalsets", "validate", str(path), "--agent", str(AGENT)])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def check_answer(code: int, out: str, err: str) -> None:
    assert code in (0, 1, 2), (code, err[-500:])
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) <= 3, err[:2000]
    if code == 2:
        assert len(lines) >= 1  # a bad input is named, never silent


@pytest.fixture(scope="module", autouse=True)
def count_inputs(request: pytest.FixtureRequest):
    """How many fuzzed inputs were answered: printed, and added to the suite's closing line."""
    yield
    print(f"\nfuzzed eval-set inputs tried: {TRIED['inputs']}")
    stash = request.config.stash
    stash[FUZZED_INPUTS] = stash.get(FUZZED_INPUTS, 0) + TRIED["inputs"]


@pytest.fixture(scope="module", autouse=True)
def warm_imports() -> None:
    """ADK's imports and the agent's take seconds the first time; not the fuzzed input's doing."""
    load_evalset(str(SHIPPED[0]))
    assert validate_in_process(AGENT)[0] == 0


@settings(
    max_examples=150,
    derandomize=True,  # the same inputs on every run: a failure reproduces
    deadline=None,  # bounded by time_limit instead (the first example imports ADK)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
@given(text=mutated_text())
def test_mutated_evalsets_get_an_answer_not_a_traceback(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzzed.evalset.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    TRIED["inputs"] += 1
    with time_limit(PER_INPUT_TIMEOUT_S):
        check_answer(*validate_in_process(path))
        try:
            load_evalset(str(path))
        except BenchError as exc:
            assert len(str(exc).splitlines()) <= 3 and str(exc)


def _bench(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_ten_megabytes_of_text_and_thousands_of_cases(tmp_path: Path) -> None:
    base = copy.deepcopy(BASES[0])
    case = base["eval_cases"][0]
    big = copy.deepcopy(base)
    big["eval_cases"][0]["conversation"][0]["user_content"]["parts"][0]["text"] = "é" * 5_000_000
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "big.evalset.json").write_text(json.dumps(big, ensure_ascii=False))
    many = copy.deepcopy(base)
    many["eval_cases"] = [{**copy.deepcopy(case), "eval_id": f"c{i}"} for i in range(5000)]
    (tmp_path / "many").mkdir()
    (tmp_path / "many" / "many.evalset.json").write_text(json.dumps(many))
    dup = copy.deepcopy(many)
    dup["eval_cases"][4999]["eval_id"] = "c7"
    (tmp_path / "dup").mkdir()
    (tmp_path / "dup" / "dup.evalset.json").write_text(json.dumps(dup))
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "deep.evalset.json").write_text('{"eval_cases": ' + "[" * 100_000 + "]" * 100_000 + "}")
    answers = {}
    for name in ("big", "many", "dup", "deep"):
        code, out, err = _bench("evalsets", "validate", str(tmp_path / name), "--agent", str(AGENT))
        check_answer(code, out, err)
        answers[name] = (code, out + err)
        TRIED["inputs"] += 1
    assert answers["big"][0] in (0, 1) and answers["many"][0] in (0, 1)
    # validate reports a file it cannot load as a problem (exit 1), naming why
    assert answers["dup"][0] in (1, 2)
    assert answers["deep"][0] in (1, 2) and "nested too deeply" in answers["deep"][1]
    loaded = load_evalset(str(tmp_path / "many"))
    assert len(loaded.cases) == 5000
    with pytest.raises(BenchError, match="'c7' appears twice"):
        load_evalset(str(tmp_path / "dup"))
