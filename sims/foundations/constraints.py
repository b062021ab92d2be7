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

Seeds, by name: a field called ``seed``, ``seeds`` or ``*_seed`` holds integers below
:data:`SEED_LIMIT` (numpy and torch take them, with room in 64 bits for the offsets experiments
add, such as ``100_003 * (seed + 1) + n``), and a ``seeds`` list names each seed once (a seed is
one replicate; a repeated one would be counted twice). No list of a constrained field
(``tuple[X, ...]`` with a range or choices) names an entry twice.

The same metadata gives the command line its flags (:mod:`sims.cli.flags`). Constraints that tie
fields together (checkpoints within the iterations, n within a width) stay in the config's
``__post_init__``."""

from __future__ import annotations

import collections
import dataclasses
import math
import numbers
import types
import typing

from sims.foundations.errors import InputError
from sims.foundations.io import check_choice, check_choices

__all__ = ["RANGES", "SEED_LIMIT", "is_seed_field", "check_seed", "check_no_repeats", "check_fields", "constrained"]

#: range name -> (predicate, the adjective an error message uses)
RANGES = {"positive": (lambda value: value > 0, "positive"),
          "non-negative": (lambda value: value >= 0, "non-negative")}


#: seeds are non-negative integers below this (see the module docstring)
SEED_LIMIT = 2 ** 32


def is_seed_field(name: str) -> bool:
    """Whether a config field holds a seed (or, ``seeds``, a list of them) by its name."""
    return name in ("seed", "seeds") or name.endswith("_seed")


def check_seed(name: str, value) -> None:
    """Refuse a seed (or a list of seeds) at or above :data:`SEED_LIMIT`, and a list naming a
    seed twice; an InputError names the field and what is accepted."""
    values = list(value) if isinstance(value, (tuple, list)) else [value]
    if any(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= SEED_LIMIT for v in values):
        raise InputError(f"{name} must be below 2^32 = {SEED_LIMIT} (a seed), got {value!r}")
    if isinstance(value, (tuple, list)):
        check_no_repeats(name, value, "each seed is one replicate")


def check_no_repeats(name: str, values, why: str = "a repeat would be run and counted twice") -> None:
    """Refuse a list naming an entry more than once; the InputError names the field, the
    repeated entries and ``why`` it matters."""
    repeated = sorted((v for v, count in collections.Counter(values).items() if count > 1), key=repr)
    if repeated:
        raise InputError(f"{name} names {', '.join(map(repr, repeated))} more than once; {why}, give each once")


def _is_list_annotation(annotation) -> bool:
    """Whether an annotation is a variable-length tuple (``tuple[X, ...]``), a list of choices."""
    annotation, _ = _without_none(annotation)
    arguments = typing.get_args(annotation)
    return typing.get_origin(annotation) is tuple and len(arguments) == 2 and arguments[1] is Ellipsis


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
        raise InputError(f"{name} must be a {RANGES[value_range][1]} {noun}, got {value!r}")


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
        if is_seed_field(field.name) and value is not None:
            check_seed(label, value)
        elif ("range" in field.metadata or "choices" in field.metadata) and isinstance(value, (tuple, list)) \
                and _is_list_annotation(hints[field.name]):
            check_no_repeats(label, value)


def constrained(default=dataclasses.MISSING, *, value_range: str | None = None, choices=None, **metadata):
    """A dataclass field with a default and the constraints of this module in its metadata
    (``help`` and ``label`` may be passed as keywords)."""
    if value_range is not None:
        metadata["range"] = value_range
    if choices is not None:
        metadata["choices"] = choices
    return dataclasses.field(default=default, metadata=metadata)
