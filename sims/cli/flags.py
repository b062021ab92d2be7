"""Command-line flags generated from config dataclasses, so a field's default, type and help
live in one place: the field itself.

A field becomes a flag through its metadata::

    lr: float = field(default=1.0, metadata={"help": "width-independent learning rate",
                                             "range": "positive"})

- ``help`` (required): the flag's help text; " (default X)" is appended.
- ``range`` (optional): "positive" or "non-negative", checked when the flag is parsed, so the
  error names the flag (``argument --lr: expected a positive number, got '0'``), and again by
  the config (:mod:`sims.foundations.constraints`).
- ``choices`` (optional): a callable returning the accepted names, listed in the help. The
  names themselves are checked by the config, which names the field and the valid values.

- ``positional`` (optional): True makes the field a positional argument (``gfs run EXPERIMENT``).

A field without a default is a required flag. Annotations map to flag types: ``bool`` -> a switch (``store_true``, default False); ``int``,
``float``, ``str`` and their ``| None`` forms -> that type; ``tuple[int, ...]`` of fixed
length -> comma-separated integers (``--classes 3,8``).

:func:`add_config_flags` adds the flags of chosen fields to a parser and
:func:`config_from_flags` builds the config back from the parsed arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from typing import Mapping, Sequence

from sims.foundations.constraints import RANGES, SEED_LIMIT, is_seed_field
from sims.foundations.errors import InputError

__all__ = ["add_config_flags", "config_from_flags", "flag_name", "parse_number"]



def parse_number(kind: type, value_range: str | None, below: int | None = None):
    """An argparse ``type`` that reads an int or a float and, with ``value_range`` ("positive"
    or "non-negative"), refuses values outside it (and non-finite floats), and with ``below``
    values at or above it (a seed's :data:`sims.foundations.constraints.SEED_LIMIT`); its error says what
    was expected, and argparse prefixes the flag."""
    if value_range is None:
        expected = "an integer" if kind is int else "a number"
    else:
        expected = f"a {RANGES[value_range][1]} {'integer' if kind is int else 'finite number'}"
    if below is not None:
        expected += f" below {below}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value_range is not None:
            in_range, _ = RANGES[value_range]
            if not (math.isfinite(value) and in_range(value)):
                raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        if below is not None and value >= below:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def flag_name(field_name: str, flags: Mapping[str, str]) -> str:
    """The flag of a field: ``flags[field_name]`` if given, else ``--field-name``. (A positional
    field's argument is its name, see :func:`add_config_flags`.)"""
    return flags.get(field_name, "--" + field_name.replace("_", "-"))


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _plain_type(annotation):
    """(type, is_tuple, tuple length) of an annotation, without its ``| None``."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [argument for argument in arguments if argument is not type(None)]
        if len(members) != 1:
            raise TypeError(f"no flag type for the annotation {annotation!r}")
        return _plain_type(members[0])
    if origin is tuple:
        if not arguments or Ellipsis in arguments or any(argument is not int for argument in arguments):
            raise TypeError(f"no flag type for the annotation {annotation!r} (fixed-length tuples of int only)")
        return int, True, len(arguments)
    if annotation in (bool, int, float, str):
        return annotation, False, 0
    raise TypeError(f"no flag type for the annotation {annotation!r}")


def _fields(config_class, names: Sequence[str]) -> list[tuple[dataclasses.Field, object]]:
    """(field, resolved annotation) of each name, in the order given."""
    by_name = {field.name: field for field in dataclasses.fields(config_class)}
    hints = typing.get_type_hints(config_class)
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise TypeError(f"{config_class.__name__} has no field(s) {', '.join(unknown)}")
    return [(by_name[name], hints[name]) for name in names]


def add_config_flags(
    parser,
    config_class,
    names: Sequence[str],
    *,
    flags: Mapping[str, str] = {},
    ranges: Mapping[str, str] = {},
) -> None:
    """Add one flag per field in ``names`` of the dataclass ``config_class`` to ``parser`` (a
    parser or an argument group): the field's default, a type from its annotation and the help
    and range of its metadata (see the module docstring). ``flags`` renames flags (field ->
    flag); ``ranges`` tightens a field's range for this command only."""
    for field, annotation in _fields(config_class, names):
        if "help" not in field.metadata:
            raise TypeError(f"{config_class.__name__}.{field.name} has no help text in its metadata")
        flag = flag_name(field.name, flags)
        text = field.metadata["help"]
        if "choices" in field.metadata:
            text = f"{text}: {', '.join(field.metadata['choices']())}"
        kind, is_tuple, length = _plain_type(annotation)
        if field.metadata.get("positional"):
            parser.add_argument(field.name, type=kind, help=text)
            continue
        default = field.default
        required = default is dataclasses.MISSING  # a field without a default is a required flag
        if required:
            default = None
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=default, help=text)
            continue
        if default is not None:
            shown = ",".join(str(value) for value in default) if is_tuple else default
            text = f"{text} (default {shown})"
        if is_tuple:
            argument_type, default = str, (None if default is None else ",".join(str(value) for value in default))
        elif kind in (int, float):
            below = SEED_LIMIT if kind is int and is_seed_field(field.name) else None
            argument_type = parse_number(kind, ranges.get(field.name, field.metadata.get("range")), below)
        else:
            argument_type = str
        parser.add_argument(flag, type=argument_type, default=default, required=required, help=text)


def config_from_flags(config_class, args, names: Sequence[str], *, flags: Mapping[str, str] = {}, **values):
    """The config ``config_class(**values, <field>=<parsed flag> for each field in names>)``.
    A tuple flag that is not the right number of comma-separated integers raises an InputError
    naming the flag; the config's own checks name the field."""
    for field, annotation in _fields(config_class, names):
        flag = field.name if field.metadata.get("positional") else flag_name(field.name, flags)
        value = getattr(args, _dest(flag))
        kind, is_tuple, length = _plain_type(annotation)
        if is_tuple and value is not None:
            try:
                value = tuple(int(part) for part in value.split(","))
            except ValueError:
                raise InputError(f"{flag} must be {_count(length)} comma-separated integers, got {value!r}") from None
        values[field.name] = value
    return config_class(**values)


def _count(length: int) -> str:
    return {1: "one", 2: "two", 3: "three"}.get(length, str(length))
