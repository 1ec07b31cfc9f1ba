"""How a record field's Python type becomes a Parquet column type.

A record (a TypedDict in `bench.schemas.records`) is the one declaration of a table's columns.
Plain `int`, `float`, `str`, `bool` map to int64, float64, string, bool. Two markers cover what a
JSON line cannot say by itself:

- `EpochS`: epoch seconds in the raw JSONL, a UTC timestamp (microseconds) in Parquet;
- `JsonText`: a nested value (tool calls, an ADK Invocation, labels) stored as a JSON string.

This module has no pyarrow import: the load processes import the records, and only the results
stage pays for pyarrow (`bench.schemas.tables`).
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin

ColumnKind = Literal["int", "float", "str", "bool", "timestamp", "json"]


class _Marker:
    def __init__(self, kind: ColumnKind) -> None:
        self.kind: ColumnKind = kind

    def __repr__(self) -> str:
        return f"<column {self.kind}>"


TIMESTAMP = _Marker("timestamp")
JSON = _Marker("json")

EpochS = Annotated[float, TIMESTAMP]
JsonText = Annotated[Any, JSON]

_PLAIN: dict[object, ColumnKind] = {int: "int", float: "float", str: "str", bool: "bool"}


def column_kind(hint: object, where: str) -> ColumnKind:
    """The column kind of one annotation; `where` names the field in the error."""
    origin = get_origin(hint)
    if origin in (Required, NotRequired):
        return column_kind(get_args(hint)[0], where)
    if origin is Annotated:
        for extra in get_args(hint)[1:]:
            if isinstance(extra, _Marker):
                return extra.kind
        return column_kind(get_args(hint)[0], where)
    if origin in (Union, types.UnionType):
        kinds = [a for a in get_args(hint) if a is not type(None)]
        if len(kinds) == 1:
            return column_kind(kinds[0], where)
    kind = _PLAIN.get(hint)
    if kind is None:
        raise TypeError(f"{where}: no column type for {hint!r}")
    return kind


def record_columns(record: type) -> dict[str, ColumnKind]:
    """Field name -> column kind, in declaration order (base classes first)."""
    hints = typing.get_type_hints(record, include_extras=True)
    return {name: column_kind(hint, f"{record.__name__}.{name}") for name, hint in hints.items()}


def record_keys(record: type) -> tuple[str, ...]:
    return tuple(typing.get_type_hints(record, include_extras=True))
