"""The one method-style table: every method the toolkit draws has one look, no two alike."""

from matplotlib.colors import to_rgba

from sims.baselines.methods import PRUNING_METHODS
from sims.plotting.style import DEFAULT_STYLE, METHOD_STYLE, method_style
from sims.selection.engine import METHODS


def test_every_selection_and_pruning_method_and_direct_training_has_a_style():
    assert set(METHODS) | set(PRUNING_METHODS) | {"direct-gd"} <= set(METHOD_STYLE)


def test_styles_are_matplotlib_colours_and_line_styles_and_no_two_names_share_one():
    for colour, style in METHOD_STYLE.values():
        to_rgba(colour)  # a colour matplotlib understands
        assert style in ("-", "--", ":", "-.")
    looks = list(METHOD_STYLE.values())
    assert len(set(looks)) == len(looks)


def test_method_style_of_a_known_and_an_unknown_name():
    assert method_style("gfs") == METHOD_STYLE["gfs"] == ("C0", "-")
    assert method_style("a-plug-in") == DEFAULT_STYLE == (None, "-")
