"""Typed config loading, one coercer for every stage: dataclass defaults < TOML file < overrides.

A config is a frozen dataclass (sections are nested dataclasses). :func:`apply` checks each value
against the field's declared type and returns a new instance, so a stage never reads a dict by
string keys and a typo or a wrong type is an error that names the key.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config file or value that cannot be applied; the message says which key and why."""


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _kinds(hint: Any) -> tuple[set[Any], bool]:
    """The concrete types a hint allows, and whether None is allowed (``int | None``)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = typing.get_args(hint)
        kinds: set[Any] = set()
        for a in args:
            if a is not type(None):
                kinds |= _kinds(a)[0]
        return kinds, type(None) in args
    origin = typing.get_origin(hint)
    return {origin or hint}, False


def _item_type(hint: Any) -> type | None:
    """The element type of ``tuple[str, ...]`` / ``list[int]`` (None when the hint does not say)."""
    for arg in typing.get_args(hint) or ():
        if arg is not type(None) and typing.get_origin(arg) in (tuple, list):
            return _item_type(arg)
        if isinstance(arg, type) and arg is not type(None):
            return arg
    return None


def coerce(value: Any, hint: Any, key: str) -> Any:
    """``value`` checked against the type ``hint``; ints are accepted for floats, a comma string for tuples."""
    kinds, nullable = _kinds(hint)
    if value is None and nullable:
        return None
    if bool in kinds:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if int in kinds and isinstance(value, int) and not isinstance(value, bool):
        return value
    if float in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if str in kinds and isinstance(value, str):
        return value
    if kinds & {tuple, list}:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (list, tuple)):
            item = _item_type(hint)
            ok = (int, float) if item is float else item
            if item is not None and not all(isinstance(v, ok) and not isinstance(v, bool) for v in value):
                raise ConfigError(f"{key} must be a list of {item.__name__} values, got {value!r}")
            return tuple(value) if tuple in kinds else list(value)
        raise ConfigError(f"{key} must be a list, got {value!r}")
    want = "an integer" if int in kinds else "a number" if float in kinds else "a string" if str in kinds else "valid"
    raise ConfigError(f"{key} must be {want}, got {value!r}")


def apply(obj: Any, values: Mapping[str, Any], *, prefix: str = "", dashes: bool = False) -> Any:
    """A copy of the dataclass ``obj`` with ``values`` applied, sections recursively.

    ``dashes=True`` lets keys use ``-`` for ``_`` (command-line spelling). Unknown keys are errors.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a table of keys, got {values!r}")
    hints = _hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for raw, value in values.items():
        name = str(raw).replace("-", "_") if dashes else str(raw)
        key = f"{prefix}{raw}"
        if name not in names:
            raise ConfigError(f"unknown config key {key!r} (known: {', '.join(sorted(names))})")
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key} is a section; set its keys, e.g. {key}.<key>=...")
            changes[name] = apply(current, value, prefix=key + ".", dashes=dashes)
        else:
            changes[name] = coerce(value, hints[name], key)
    return dataclasses.replace(obj, **changes)


def parse_override(text: str) -> dict[str, Any]:
    """``"filters.min_size=8"`` -> ``{"filters": {"min_size": 8}}``; values are TOML, bare words strings."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    dotted, raw = text.split("=", 1)
    try:
        parsed = tomllib.loads(f"v = {raw}")
        value = parsed["v"] if len(parsed) == 1 else raw  # "1\nx = 2" is not one value: keep the text
    except (tomllib.TOMLDecodeError, RecursionError):  # deep [[[...]]] nesting is text, not a crash
        value = raw
    out: dict[str, Any] = {}
    node = out
    parts = [p.strip() for p in dotted.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"override {text!r} has an empty key")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict; a missing, unreadable or invalid file is a :class:`ConfigError`."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"config {path} is nested too deeply to be a config") from None
