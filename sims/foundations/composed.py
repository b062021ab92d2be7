"""Configs composed of other configs, and the flat record by which they are stored.

An experiment's config nests the library's own configs (a ``DatasetConfig``, a ``NetworkConfig``,
a ``TrainConfig``) instead of re-declaring their fields. On disk, in a TOML file and in the hash
that names a results folder, a config is one flat record of keys: each nested field says, in
its metadata, which of its fields are keys of the outer config and under which names::

    dense_network: NetworkConfig = nested(NetworkConfig(width=2000), flat={"width": "dense_width"})

makes ``dense_width`` a key whose value is ``config.dense_network.width``. Several nested fields
may expose one key (``{"lr": "lr"}`` in two training configs): its value is then that of the
first, and a later one that differs from it is written as a dotted key (``mnist_train.lr``).
A nested field's other fields keep the nested default; a config whose value differs there is
written with a dotted key too (``dense_train.batch_size``), so every config has a record and
the record gives back the config. A config without nested fields is its own record (the
fields, as ``dataclasses.asdict`` gives them).

- :func:`flat_record` (config -> record), :func:`flat_defaults` (the record's defaults),
  :func:`flat_annotations` (the type of each key), :func:`from_flat_record` (record -> config)
  and :func:`with_keys` (a config with some keys changed);
- :func:`cell_record`: the JSON record of a typed cell (a frozen dataclass), by which the runner
  names its file.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Mapping

from sims.foundations.errors import InputError

__all__ = ["nested", "is_nested", "flat_record", "flat_defaults", "flat_annotations", "flat_keys",
           "from_flat_record", "with_keys", "cell_record"]

_FLAT = "flat"


def nested(default, flat: Mapping[str, str]) -> dataclasses.Field:
    """A config field holding the config ``default`` (a frozen dataclass), whose fields named in
    ``flat`` are keys of the outer config's record under the names ``flat`` gives them."""
    unknown = set(flat) - {field.name for field in dataclasses.fields(default)}
    if unknown:
        raise TypeError(f"{type(default).__name__} has no field(s) {', '.join(sorted(unknown))}")
    return dataclasses.field(default=default, metadata={_FLAT: dict(flat)})


def is_nested(field: dataclasses.Field) -> bool:
    """Whether a dataclass field was declared with :func:`nested`."""
    return _FLAT in field.metadata


def _exposed(field: dataclasses.Field) -> list[tuple[dataclasses.Field, str]]:
    """(inner field, key) of a nested field's exposed fields, in the inner class's field order."""
    flat = field.metadata[_FLAT]
    return [(inner, flat[inner.name]) for inner in dataclasses.fields(field.default) if inner.name in flat]


def flat_record(config) -> dict:
    """The record of ``config``: its plain fields and the exposed fields of its nested ones, by
    key, in declaration order, then dotted keys for nested values no key holds (module
    docstring). Values as the fields hold them (tuples stay tuples)."""
    record, dotted = {}, {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if not is_nested(field):
            record[field.name] = value
            continue
        flat = field.metadata[_FLAT]
        for inner in dataclasses.fields(value):
            inner_value = getattr(value, inner.name)
            key = flat.get(inner.name)
            if key is not None and key not in record:
                record[key] = inner_value
            elif (record[key] != inner_value) if key is not None else (inner_value != getattr(field.default,
                                                                                              inner.name)):
                dotted[f"{field.name}.{inner.name}"] = inner_value
    return {**record, **dotted}


def flat_defaults(config_class) -> dict:
    """The default of each key of ``config_class``'s record (``dataclasses.MISSING`` for a
    plain field without a default), in the order of :func:`flat_record`."""
    defaults = {}
    for field in dataclasses.fields(config_class):
        if is_nested(field):
            for inner, key in _exposed(field):
                defaults.setdefault(key, getattr(field.default, inner.name))
        else:
            defaults[field.name] = field.default
    return defaults


def flat_keys(config_class) -> list[str]:
    """The keys of ``config_class``'s record (without the dotted ones)."""
    return list(flat_defaults(config_class))


def flat_annotations(config_class) -> dict:
    """The annotation of every key a record of ``config_class`` may hold: its keys, and the
    dotted key of every field of every nested config. Empty when the annotations do not resolve
    at run time."""
    try:
        hints = typing.get_type_hints(config_class)
    except (NameError, TypeError):
        return {}
    annotations, dotted = {}, {}
    for field in dataclasses.fields(config_class):
        if not is_nested(field):
            annotations[field.name] = hints.get(field.name)
            continue
        inner_hints = typing.get_type_hints(type(field.default))
        flat = field.metadata[_FLAT]
        for inner in dataclasses.fields(field.default):
            if inner.name in flat:
                annotations.setdefault(flat[inner.name], inner_hints.get(inner.name))
            dotted[f"{field.name}.{inner.name}"] = inner_hints.get(inner.name)
    return {**annotations, **dotted}


def _valid_keys(config_class) -> set[str]:
    keys = set(flat_keys(config_class))
    for field in dataclasses.fields(config_class):
        if is_nested(field):
            keys |= {f"{field.name}.{inner.name}" for inner in dataclasses.fields(field.default)}
    return keys


def from_flat_record(config_class, record: Mapping):
    """The ``config_class`` whose record is ``record`` (absent keys at their defaults; a shared
    key sets every nested field that exposes it, a dotted key then one of them). An unknown key
    raises an InputError listing the valid ones; a value a nested config refuses raises its
    InputError with the key's name in place of the nested field's."""
    unknown = sorted(set(record) - _valid_keys(config_class))
    if unknown:
        raise InputError(f"unknown config key(s) {', '.join(unknown)}; valid: {', '.join(flat_keys(config_class))}")
    values = {}
    for field in dataclasses.fields(config_class):
        if not is_nested(field):
            if field.name in record:
                values[field.name] = record[field.name]
            continue
        names = {inner.name: key for inner, key in _exposed(field)}
        changes = {inner: record[key] for inner, key in names.items() if key in record}
        prefix = f"{field.name}."
        for key, value in record.items():
            if key.startswith(prefix):
                inner = key[len(prefix):]
                changes[inner], names[inner] = value, key
        if changes:
            values[field.name] = _replaced(field.default, changes, names)
    return config_class(**values)


def _replaced(default, changes: dict, names: dict):
    """``dataclasses.replace(default, **changes)``; when the nested config refuses it, the error
    of the first change refused alone, its field named by its key (``names``)."""
    try:
        return dataclasses.replace(default, **changes)
    except InputError as error:
        for inner, value in changes.items():
            try:
                dataclasses.replace(default, **{inner: value})
            except InputError as alone:
                text, key = str(alone), names[inner]
                raise InputError(key + text[len(inner):] if text.startswith(inner + " ") else f"{key}: {text}") \
                    from None
        raise error


def with_keys(config, **changes):
    """``config`` with the record keys ``changes`` set (the composed counterpart of
    ``dataclasses.replace``, in the vocabulary of a TOML file): ``with_keys(config, dense_width=50)``."""
    return from_flat_record(type(config), {**flat_record(config), **changes})


def cell_record(cell) -> dict:
    """The JSON record of an experiment's cell: a dict as it is, a frozen dataclass (a typed
    cell) as its fields without those that are None (so a cell's key and file name do not depend
    on the optional fields other kinds of cell have)."""
    if dataclasses.is_dataclass(cell) and not isinstance(cell, type):
        return {field.name: getattr(cell, field.name) for field in dataclasses.fields(cell)
                if getattr(cell, field.name) is not None}
    return cell
