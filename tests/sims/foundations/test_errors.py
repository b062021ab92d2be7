"""Errors are told apart by their types, never by their wording: the command line reports
refused input (InputError) as one line with exit status 2 and lets any other ValueError (a bug)
through with its traceback; geometry rows tell a point outside the hull from a degenerate hull
by the exception type."""

import numpy as np
import pytest

from sims.cli import commands as cli
from sims.data.datasets import DataFilesMissing, SubsetTooLarge
from sims.foundations.errors import InputError
from sims.experiments.common import geometry_rows
from theory import geometry


def _fail_with(error):
    def handler(args):
        raise error
    return handler


def _parser_with_handler(monkeypatch, handler):
    build = cli.build_parser

    def patched():
        parser = build()
        parser.set_defaults(handler=handler)
        for action in parser._subparsers._group_actions:
            for sub in action.choices.values():
                sub.set_defaults(handler=handler)
        return parser

    monkeypatch.setattr(cli, "build_parser", patched)


def test_input_error_is_one_line_and_exit_2(monkeypatch, capsys):
    _parser_with_handler(monkeypatch, _fail_with(InputError("--width must be positive")))
    assert cli.main(["list"]) == 2
    assert capsys.readouterr().err == "gfs list: error: --width must be positive\n"


def test_a_plain_value_error_is_a_bug_and_is_not_swallowed(monkeypatch):
    _parser_with_handler(monkeypatch, _fail_with(ValueError("an internal invariant broke")))
    with pytest.raises(ValueError, match="internal invariant"):
        cli.main(["list"])


def test_data_errors_are_input_errors():
    assert issubclass(DataFilesMissing, InputError) and issubclass(SubsetTooLarge, InputError)
    error = DataFilesMissing("train-images-idx3-ubyte", "/nowhere")
    assert "data_dir" in str(error) and "download=True" in str(error)
    flags = error.hint(set_directory="pass --data-dir DIR", download="pass --download")
    assert "--data-dir DIR" in flags and "--download" in flags and "data_dir" not in flags.replace("--data-dir", "")


def _square():
    """Four corners of a square and its centre, as (m=2, N=5) features."""
    return np.array([[1.0, -1.0, -1.0, 1.0, 0.0], [1.0, 1.0, -1.0, -1.0, 0.0]])


def test_geometry_errors_have_their_own_types():
    with pytest.raises(geometry.PointOutsideHull):
        geometry.interior_radius(_square(), np.array([1.5, 0.0]))
    with pytest.raises(geometry.DegenerateHull):
        geometry.interior_radius(np.ones((2, 3)), np.ones(2))
    assert issubclass(geometry.PointOutsideHull, ValueError) and issubclass(geometry.DegenerateHull, ValueError)


def test_geometry_rows_radius_zero_outside_and_absent_when_degenerate():
    # the projection of the target onto the affine hull (the plane) lies outside the square
    outside = geometry_rows(_square(), np.array([3.0, 0.0]), max_radius_dim=8)
    assert outside["r"] == 0.0
    inside = geometry_rows(_square(), np.array([0.5, 0.0]), max_radius_dim=8)
    assert inside["r"] == pytest.approx(0.5 / np.sqrt(2))
    degenerate = geometry_rows(np.ones((2, 3)), np.zeros(2), max_radius_dim=8)
    assert "r" not in degenerate


def test_geometry_rows_let_other_errors_through(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug, not a property of the hull")

    monkeypatch.setattr(geometry, "interior_radius", broken)
    with pytest.raises(ValueError, match="a bug"):
        geometry_rows(_square(), np.array([0.5, 0.0]), max_radius_dim=8)
