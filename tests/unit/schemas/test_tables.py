"""Row types -> Parquet schemas, and `to_table` refusing keys that no row type declares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

import pyarrow as pa
import pytest

from bench.schemas.columns import EpochS, JsonText, record_keys
from bench.schemas.records import LlmCallBuilt, LlmCallRecord, LlmCallRow, TurnRow
from bench.schemas.summaries import SummaryRow
from bench.schemas.tables import (
    SLA_SUMMARY_ROWS,
    SWEEP_SUMMARY_ROWS,
    TABLES,
    SchemaError,
    schema_of,
    to_open_table,
    to_table,
)


class _Row(TypedDict, total=False):
    at: EpochS | None
    calls: JsonText
    n: int
    ok: bool | None
    rate: float
    name: str


def test_types_follow_the_annotations() -> None:
    schema = schema_of(_Row)
    assert schema.names == ["at", "calls", "n", "ok", "rate", "name"]
    assert schema.types == [
        pa.timestamp("us", tz="UTC"), pa.string(), pa.int64(), pa.bool_(), pa.float64(), pa.string()
    ]  # fmt: skip


def test_a_field_without_a_column_type_is_refused_at_declaration() -> None:
    class Bad(TypedDict):
        when: datetime

    with pytest.raises(TypeError, match="Bad.when"):
        schema_of(Bad)


def test_to_table_converts_epoch_seconds_and_nested_values() -> None:
    table = to_table([{"at": 0.5, "calls": [{"name": "f"}], "n": 3.0}], schema_of(_Row), "t")
    row = table.to_pylist()[0]
    assert row["at"] == datetime.fromtimestamp(0.5, tz=UTC)
    assert row["calls"] == '[{"name": "f"}]' and row["n"] == 3 and row["ok"] is None


def test_to_table_refuses_an_undeclared_key_naming_it_and_the_table() -> None:
    with pytest.raises(SchemaError, match=r"table turns: key 'latency_s' is not declared"):
        to_table([{"turn_id": "a", "latency_s": 1.0}], TABLES["turns"], "turns")


def test_tables_follow_the_row_types_with_scores_after_the_raw_columns() -> None:
    assert TABLES["llm_calls"].names == list(record_keys(LlmCallRow))
    assert TABLES["llm_calls"].names[: len(record_keys(LlmCallRecord))] == list(
        record_keys(LlmCallRecord)
    )
    built = list(record_keys(LlmCallBuilt))  # the results stage's columns come last
    assert built[:2] == ["call_class", "invocation_index"]
    assert TABLES["llm_calls"].names[-len(built) :] == built
    assert TABLES["turns"].names == list(record_keys(TurnRow))
    assert TABLES["turns"].names[-2:] == ["judge_final_response_match", "judge_rubric_score"]
    assert TABLES["summary"].field("window_start").type == pa.timestamp("us", tz="UTC")
    assert TABLES["summary"].names == list(record_keys(SummaryRow))


def test_sweep_tables_type_declared_columns_and_infer_only_engine_flags() -> None:
    rows = [
        {"sweep_id": "s", "point_id": "p0", "repeat": 0, "max_num_seqs": 8, "users": 4,
         "ttft_p50_ms": 12.0, "window_start": 10.0},
        {"sweep_id": "s", "point_id": "p1", "repeat": 0, "max_num_seqs": 16, "users": 4,
         "ttft_p50_ms": None, "window_start": 11.0},
    ]  # fmt: skip
    table = to_open_table(rows, SWEEP_SUMMARY_ROWS, ["max-num-seqs"], "sweep_summary")
    assert table.schema.names == list(rows[0])  # the rows' own column order
    assert table.schema.field("max_num_seqs").type == pa.int64()
    assert table.schema.field("users").type == pa.int64()  # declared, not inferred
    assert table.schema.field("window_start").type == pa.timestamp("us", tz="UTC")
    with pytest.raises(SchemaError, match="key 'gpu_util'"):
        to_open_table([{**rows[0], "gpu_util": 0.9}], SWEEP_SUMMARY_ROWS, ["max-num-seqs"], "x")


def test_sla_summary_declares_both_load_axes() -> None:
    names = schema_of(*SLA_SUMMARY_ROWS).names
    assert {"max_users", "first_failing_users", "max_session_rate"} <= set(names)
