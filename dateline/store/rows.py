"""Rows ↔ the domain's dataclasses, derived from the dataclasses' fields and the tables' columns.

A field is read from and written to the column of the same name (or the one named in `columns`),
converted by its declared type: enums by value, value objects through `to_json`/`from_json`, lists
of them item by item. So a new field needs its dataclass field and its column (a migration), and
nothing in between."""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from dateline.store.engines import Engines

D = TypeVar("D")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


class Rows:
    """What every part of the store shares: its engines."""

    engines: Engines


def to_column(value: Any) -> Any:
    """A field's value as its column holds it."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_column(v) for v in value]
    to_json = getattr(value, "to_json", None)
    if to_json is not None:
        return to_json()
    return value


def _reader(kind: Any) -> Callable[[Any], Any]:
    """How to turn a column's value back into a field of type `kind`."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        read = _reader(inner[0]) if len(inner) == 1 else (lambda v: v)
        return lambda v: None if v is None else read(v)
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        item = _reader(args[0]) if args else (lambda v: v)
        make = list if origin is list else tuple
        return lambda v: make(item(x) for x in v)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind
    from_json = getattr(kind, "from_json", None)
    if from_json is not None:
        return typing.cast(Callable[[Any], Any], from_json)
    if kind is bool:
        return bool
    return lambda v: v


class RowCodec(Generic[D]):
    """Reads and writes one dataclass to one table. `columns` renames fields whose column has
    another name; `skip` names fields that are not stored in this table."""

    def __init__(
        self,
        cls: type[D],
        table: sa.Table,
        *,
        columns: Mapping[str, str] | None = None,
        skip: tuple[str, ...] = (),
    ) -> None:
        assert is_dataclass(cls)
        self.cls = cls
        self.table = table
        renames = dict(columns or {})
        hints = typing.get_type_hints(cls)
        self._fields: list[tuple[str, str, Callable[[Any], Any]]] = []
        for f in fields(cls):
            column = renames.get(f.name, f.name)
            if f.name in skip or column not in table.c:
                continue
            self._fields.append((f.name, column, _reader(hints[f.name])))

    def values(self, obj: D, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
        """The columns for `obj` (for an INSERT or UPDATE), leaving out the fields `without`."""
        return {
            column: to_column(getattr(obj, name))
            for name, column, _ in self._fields
            if name not in without
        }

    def read(self, row: Mapping[Any, Any], **extra: Any) -> D:
        """The dataclass for a row; `extra` gives the fields the row does not hold."""
        found = {name: read(row[column]) for name, column, read in self._fields}
        return self.cls(**found, **extra)
