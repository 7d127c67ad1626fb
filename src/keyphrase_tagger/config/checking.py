"""Plain config values checked against type annotations: one :class:`ConfigError` naming the key.

A schema is a dataclass whose field annotations say what each key takes: ``int``, ``float``,
``bool``, ``str``, ``Path`` (a non-empty string naming a file or directory), ``Literal``, an
``Enum``, ``list[...]``, unions (``X | None``), ``Any`` and nested schemas; a field made with
:func:`bounded` also carries a range. The same checks read the annotations of a library's own
dataclass (``TrainingArguments``): a type this module does not know is left to that library.

Keys a config leaves out are not checked (the code's defaults apply); a key the schema does not
name is an error, so that a misspelt key added with ``+key=`` cannot be silently ignored.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import operator
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from keyphrase_tagger.errors import ConfigError

_COMPARISONS = {"ge": (">=", operator.ge), "gt": (">", operator.gt),
                "le": ("<=", operator.le), "lt": ("<", operator.lt)}
_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null",
          Path: "a path (a non-empty string)"}


def bounded(**bounds: float) -> Any:
    """A schema field whose number, when set, satisfies ``bounds`` (``ge``, ``gt``, ``le``, ``lt``)."""
    return dataclasses.field(metadata={"bounds": bounds})


def plain(cfg: Mapping) -> dict:
    """``cfg`` as plain Python values, every interpolation resolved (a failing one names its key)."""
    if not isinstance(cfg, DictConfig):
        return dict(cfg)
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{err.full_key}: {str(err).splitlines()[0]}") from None


def _is_enum(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, enum.Enum)


def _union_members(annotation: object) -> tuple:
    members = typing.get_args(annotation)
    # ``SomeEnum | str`` (as transformers writes it) takes the enum's values as strings, no others.
    if any(_is_enum(m) for m in members):
        members = tuple(m for m in members if m is not str)
    return members


def _is_union(annotation: object) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType)


def describe(annotation: object) -> str:
    """What a value of ``annotation`` looks like, for an error message."""
    origin = typing.get_origin(annotation)
    if _is_union(annotation):
        return " or ".join(describe(m) for m in _union_members(annotation))
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(annotation))
    if _is_enum(annotation):
        return "one of " + ", ".join(repr(m.value) for m in annotation)
    if origin in (list, tuple) or annotation in (list, tuple):
        return "a list"
    if origin is dict or annotation is dict or dataclasses.is_dataclass(annotation):
        return "a mapping"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _accepts(value: object, annotation: object) -> bool:
    """Whether ``value`` has the shape of ``annotation`` (list items and mapping keys not looked at)."""
    origin = typing.get_origin(annotation)
    if _is_union(annotation):
        return any(_accepts(value, m) for m in _union_members(annotation))
    if origin is Literal:
        return any(value == v and type(value) is type(v) for v in typing.get_args(annotation))
    if _is_enum(annotation):
        return isinstance(value, annotation) or any(value == m.value for m in annotation)
    if origin in (list, tuple) or annotation in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin is dict or annotation is dict or dataclasses.is_dataclass(annotation):
        return isinstance(value, Mapping)
    if annotation in (int, float):
        return isinstance(value, (int, float) if annotation is float else int) and not isinstance(value, bool)
    if annotation is Path:
        return isinstance(value, str) and value.strip() != ""
    if annotation in (bool, str, type(None)):
        return isinstance(value, annotation)
    return True  # Any, or a class of a library's own: that library checks it


def check_value(key: str, value: object, annotation: object) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``value`` fits ``annotation`` (items included)."""
    if not _accepts(value, annotation):
        raise ConfigError(f"{key}: expected {describe(annotation)}, got {value!r}")
    if _is_union(annotation):
        annotation = next(m for m in _union_members(annotation) if _accepts(value, m))
    if dataclasses.is_dataclass(annotation):
        check_fields(key, value, annotation)
    elif typing.get_origin(annotation) in (list, tuple) and typing.get_args(annotation):
        for i, item in enumerate(value):
            check_value(f"{key}[{i}]", item, typing.get_args(annotation)[0])


def check_bounds(key: str, value: object, bounds: Mapping[str, float]) -> None:
    """Raise :class:`ConfigError` unless a number ``value`` satisfies ``bounds`` (see :func:`bounded`)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return  # null, "auto": the type check has judged them
    for name, limit in bounds.items():
        symbol, holds = _COMPARISONS[name]
        if not holds(value, limit):
            raise ConfigError(f"{key}={value!r}: must be {symbol} {limit}")


@functools.cache
def type_hints(cls: type) -> dict[str, object]:
    """The resolved field annotations of a dataclass (cached: a library's take a while to resolve)."""
    return typing.get_type_hints(cls)


def check_fields(prefix: str, values: Mapping, schema: type) -> None:
    """Check every key of ``values`` against the dataclass ``schema``; keys are named ``prefix.key``."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = type_hints(schema)
    for name, value in values.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if name not in fields:
            raise ConfigError(f"{key}: unknown key; {prefix or 'the config'} takes {', '.join(fields)}")
        check_value(key, value, hints[name])
        check_bounds(key, value, fields[name].metadata.get("bounds", {}))
