"""The one mapping between the results model's classes and results.json: a field is written
under its name (or `metadata["key"]`), in the order the class declares them; keys a class
does not know are kept in `extra` and written back after its own, unchanged.

A field declared with `OMIT_NONE` is left out while it is None, so a field the model gained
after older files were written reads them without adding a key when they are written back.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.errors import LabError

#: Field metadata: written only when it holds a value.
OMIT_NONE: Mapping[str, bool] = {"omit_none": True}


class ResultsError(LabError):
    """A results document that cannot be read; the message names the offending key."""


@dataclass(frozen=True, kw_only=True)
class Doc:
    """A part of results.json; `extra` holds the keys this version does not know."""

    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key", f.name))


def decode(tp: Any, value: Any, where: str) -> Any:
    """`value`, read from JSON, as an instance of the type `tp` (a model class, a tuple or
    Mapping of them, or a plain JSON type); `where` names it in an error."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return decode(options[0], value, where)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ResultsError(f"{where} should be a list, found {type(value).__name__}")
        item = typing.get_args(tp)[0]
        return tuple(decode(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, dict):
            raise ResultsError(f"{where} should be an object, found {type(value).__name__}")
        item = typing.get_args(tp)[1]
        return {str(k): decode(item, v, f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    raise ResultsError(f"{where} should be {tp.__name__}, found {value!r}")


def _decode_dataclass(cls: type[Any], value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ResultsError(f"{where} should be an object, found {type(value).__name__}")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.name != "extra"]
    known = {_key(f) for f in fields}
    kwargs: dict[str, Any] = {"extra": {k: v for k, v in value.items() if k not in known}}
    for f in fields:
        key = _key(f)
        if key in value:
            kwargs[f.name] = decode(hints[f.name], value[key], f"{where}.{key}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ResultsError(f"{where} has no {key!r}")
    return cls(**kwargs)


def encode(value: Any) -> Any:
    """`value` (a model instance, or a tuple or mapping of them) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {
            _key(f): encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "extra"
            and not (f.metadata.get("omit_none") and getattr(value, f.name) is None)
        }
        out.update(getattr(value, "extra", {}))
        return out
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {k: encode(v) for k, v in value.items()}
    return value
