"""An experiment's config from a parsed TOML table or a stored config.json: unknown keys and
values of the wrong type refused in one line naming the key (:func:`config_from_mapping`)."""

from __future__ import annotations

import types
import typing

from sims.foundations.composed import flat_annotations, flat_keys, flat_record, from_flat_record
from sims.foundations.errors import InputError

__all__ = ["config_from_mapping", "MAX_CELLS"]

#: the most cells one experiment's run takes: checksums.json is rewritten after every cell, so
#: the bytes written grow with the square of the count (10,000 cells: about 8 GB)
MAX_CELLS = 10_000

_TYPE_NAMES = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a string", "strings"),
               bool: ("true or false", "booleans"), type(None): ("none", "nones")}


def _type_name(annotation, plural: bool = False) -> str:
    """How a config field's annotation reads in an error message: "an integer", "a list of strings"."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        return f"a list of {_type_name(arguments[0], plural=True)}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(argument, plural) for argument in arguments)
    names = _TYPE_NAMES.get(annotation)
    return names[plural] if names else getattr(annotation, "__name__", str(annotation))


def _has_type(value, annotation) -> bool:
    """Whether a parsed TOML/JSON ``value`` fits a config field's annotation (lists for tuples;
    an integer is a number, a boolean is not)."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, argument) for argument in arguments)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return all(_has_type(item, arguments[0]) for item in value)
        return len(value) == len(arguments) and all(_has_type(v, a) for v, a in zip(value, arguments))
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation is type(None):
        return value is None
    return True  # annotations this check does not know are left to the config's own validation


def config_from_mapping(config_class: type, mapping: dict, base=None):
    """Build ``config_class`` from ``mapping`` (e.g. a parsed TOML table, or a stored config.json:
    keys of its record, :func:`sims.foundations.composed.flat_record`) over ``base``.

    Unknown keys raise InputError listing the valid ones; a value that does not fit its field's
    annotation (``n_max = "fifty"``) raises InputError naming the key and the accepted type, and a
    list longer than :data:`MAX_CELLS` one naming the key. Lists become tuples.
    """
    keys = flat_keys(config_class)
    annotations = flat_annotations(config_class)  # {} when the annotations do not resolve: no type check
    unknown = sorted(set(mapping) - set(keys) - set(annotations))
    if unknown:
        raise InputError(f"unknown config key(s) {', '.join(unknown)}; valid: {', '.join(sorted(keys))}")
    values = flat_record(base) if base is not None else {}
    for key, value in mapping.items():
        annotation = annotations.get(key)
        if annotation is not None and not _has_type(value, annotation):
            raise InputError(f"config key {key} must be {_type_name(annotation)}, got {_short(value)}")
        if isinstance(value, list) and len(value) > MAX_CELLS:  # refused before any cell is listed
            raise InputError(f"config key {key} holds {len(value):,} entries, more than the {MAX_CELLS:,} cells a run "
                             "takes; give fewer")
        values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value) if isinstance(value, list) else value
    return from_flat_record(config_class, values)


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
