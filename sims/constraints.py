"""Constraints on config fields, declared once in each field's metadata and checked by one
function, :func:`check_fields`, which each config calls first in its ``__post_init__``.

- ``"range"``: ``"positive"`` or ``"non-negative"``. The value must be a number of the field's
  type (an integer for ``int``; any real for ``float``, and finite) in that range; for
  ``tuple[int, ...]`` and ``tuple[float, ...]`` fields, every entry. ``None`` passes where the
  annotation allows it.
- ``"choices"``: a callable returning the accepted names. The value must be one of them; for a
  ``tuple[str, ...]`` field, every entry, and at least one.
- ``"label"``: how messages name the field when not by its name (``"dataset"`` for
  ``DatasetConfig.name``).

The same metadata gives the command line its flags (:mod:`sims.flags`). Constraints that tie
fields together (checkpoints within the iterations, n within a width) stay in the config's
``__post_init__``."""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing

from sims.errors import InputError
from sims.io import check_choice, check_choices

__all__ = ["RANGES", "check_fields", "constrained"]

#: range name -> (predicate, the adjective an error message uses)
RANGES = {"positive": (lambda value: value > 0, "positive"),
          "non-negative": (lambda value: value >= 0, "non-negative")}


def _without_none(annotation):
    """(annotation without ``| None``, whether None is allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
        allows_none = len(members) < len(typing.get_args(annotation))
        return (members[0] if len(members) == 1 else annotation), allows_none
    return annotation, False


def _number_ok(value, kind, value_range: str) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if kind is int and not isinstance(value, numbers.Integral):
        return False
    in_range, _ = RANGES[value_range]
    return math.isfinite(value) and in_range(value)


def _check_range(name: str, value, annotation, value_range: str) -> None:
    annotation, allows_none = _without_none(annotation)
    if value is None and allows_none:
        return
    if typing.get_origin(annotation) is tuple:
        kind = typing.get_args(annotation)[0]
        entries = value if isinstance(value, (tuple, list)) else [value]
        noun = "integers" if kind is int else "finite numbers"
        if not isinstance(value, (tuple, list)) or not all(_number_ok(v, kind, value_range) for v in entries):
            raise InputError(f"{name} must hold {RANGES[value_range][1]} {noun}, got {value!r}")
        return
    noun = "integer" if annotation is int else "finite number"
    if not _number_ok(value, annotation, value_range):
        article = "an" if value_range == "non-negative" else "a"
        raise InputError(f"{name} must be {article} {RANGES[value_range][1]} {noun}, got {value!r}")


def check_fields(config) -> None:
    """Check every field of the dataclass ``config`` against the constraints its metadata
    declares; the first violation raises an InputError naming the field, the value and what is
    accepted."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        label = field.metadata.get("label", field.name)
        if "choices" in field.metadata:
            valid = tuple(field.metadata["choices"]())
            annotation, allows_none = _without_none(hints[field.name])
            if value is None and allows_none:
                pass
            elif typing.get_origin(annotation) is tuple:
                check_choices(label, value, valid)
            else:
                check_choice(label, value, valid)
        if "range" in field.metadata:
            _check_range(label, value, hints[field.name], field.metadata["range"])


def constrained(default=dataclasses.MISSING, *, value_range: str | None = None, choices=None, **metadata):
    """A dataclass field with a default and the constraints of this module in its metadata
    (``help`` and ``label`` may be passed as keywords)."""
    if value_range is not None:
        metadata["range"] = value_range
    if choices is not None:
        metadata["choices"] = choices
    return dataclasses.field(default=default, metadata=metadata)
