"""sims.plotting.plots, the pieces every figure shares: seed bands (linear and log, Student t), geometry
constants, plain log-axis labels, the legend under the axes, atomic and reproducible saving and the
shaded band in the method's style."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from scipy import stats

from sims.plotting import plots
from sims.plotting.style import METHOD_STYLE

from tests.helpers import EXACT

plt = plots.plt  # pyplot as sims.plotting.plots set it up (headless Agg backend)

T95_2, T95_1 = stats.t.ppf(0.975, 2), stats.t.ppf(0.975, 1)  # Student's 95% quantiles, 3 and 2 seeds


def _row(n, value, seed=0, method="gfs", metric="loss", **extra):
    return {"method": method, "metric": metric, "n": n, "seed": seed, "value": value, **extra}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------- rows


def test_seed_band_linear_is_the_mean_and_its_student_t_interval_sorted_by_n():
    rows = [_row(20, 5.0), _row(10, 1.0, seed=0), _row(10, 2.0, seed=1), _row(10, 3.0, seed=2),
            _row(20, 7.0, seed=1), _row(10, 100.0, method="fw"), _row(None, 9.0), _row(30, math.nan)]
    ns, centre, low, high = plots.seed_band(rows, method="gfs")
    assert ns.tolist() == [10.0, 20.0]
    # n = 10: mean 2, sd 1, three seeds; n = 20: mean 6, sd sqrt 2, two seeds
    half = np.array([T95_2 / math.sqrt(3), T95_1 * math.sqrt(2) / math.sqrt(2)])
    assert half[0] > 1.96 / math.sqrt(3)  # wider than the normal interval: 4.30 vs 1.96 at 3 seeds
    np.testing.assert_allclose(centre, [2.0, 6.0], rtol=EXACT)
    np.testing.assert_allclose(low, [2.0, 6.0] - half, rtol=EXACT)
    np.testing.assert_allclose(high, [2.0, 6.0] + half, rtol=EXACT)


def test_seed_band_log_is_the_geometric_mean_and_drops_non_positive_values():
    rows = [_row(5, 1.0), _row(5, 100.0, seed=1), _row(5, 0.0, seed=2), _row(5, -3.0, seed=3),
            _row(8, 0.0), _row(8, -1.0, seed=1)]
    ns, centre, low, high = plots.seed_band(rows, log=True)
    assert ns.tolist() == [5.0]  # n = 8 has no positive value left
    # logs 0 and ln 100: mean ln 10, sd ln100 / sqrt 2, half-width t_{0.975,1} sd / sqrt 2 = t ln 10
    assert centre[0] == pytest.approx(10.0, rel=EXACT)
    assert low[0] == pytest.approx(10.0 * 10.0 ** -T95_1, rel=1e-12)
    assert high[0] == pytest.approx(10.0 * 10.0 ** T95_1, rel=1e-12)
    assert low[0] > 0
    # the linear band keeps the non-positive values: mean (1 + 100 + 0 - 3) / 4
    ns, centre, _, _ = plots.seed_band(rows)
    assert ns.tolist() == [5.0, 8.0]
    assert centre.tolist() == [pytest.approx(24.5, rel=EXACT), pytest.approx(-0.5, rel=EXACT)]


@pytest.mark.parametrize("log", [False, True])
def test_seed_band_with_one_seed_collapses_onto_the_centre(log):
    ns, centre, low, high = plots.seed_band([_row(4, 0.25), _row(9, 2.0)], log=log)
    assert ns.tolist() == [4.0, 9.0]
    np.testing.assert_allclose(centre, [0.25, 2.0], rtol=EXACT)
    assert np.array_equal(low, centre) and np.array_equal(high, centre)


def test_seed_band_groups_by_another_column_and_drops_values_that_are_not_finite():
    rows = [_row(None, 1.0, step=3), _row(None, 3.0, seed=1, step=3), _row(None, math.inf, seed=2, step=3),
            _row(None, 5.0, step=1), _row(2, 8.0)]
    xs, centre, low, high = plots.seed_band(rows, by="step")
    assert xs.tolist() == [1.0, 3.0]  # the row without a step is left out
    np.testing.assert_allclose(centre, [5.0, 2.0], rtol=EXACT)
    assert high[1] - centre[1] == pytest.approx(T95_1 * math.sqrt(2) / math.sqrt(2), rel=1e-12)
    assert low[0] == high[0] == 5.0


def test_seed_band_of_no_rows_is_empty():
    ns, centre, low, high = plots.seed_band([_row(4, 1.0)], method="nothing")
    assert ns.size == centre.size == low.size == high.size == 0


def test_constant_is_the_mean_of_geometry_rows_without_n():
    rows = [_row(None, 2.0, metric="radius"), _row(None, 4.0, metric="radius", seed=1),
            _row(3, 100.0, metric="radius"), _row(None, 7.0, metric="diameter")]
    assert plots.constant(rows, "radius") == 3.0
    assert plots.constant(rows, "radius", seed=1) == 4.0
    assert plots.constant(rows, "diameter") == 7.0
    assert math.isnan(plots.constant(rows, "variance"))
    assert math.isnan(plots.constant(rows, "radius", method="fw"))


# ---------------------------------------------------------------- axes


def _formatted(which, lower, upper, values):
    figure, axis = plt.subplots()
    getattr(axis, f"set_{which}scale")("log")
    getattr(axis, f"set_{which}lim")(lower, upper)
    plots.plain_log_labels(axis, which)
    target = axis.yaxis if which == "y" else axis.xaxis
    major, minor = target.get_major_formatter(), target.get_minor_formatter()
    return [major(v, 0) for v in values], [minor(v, 0) for v in values]


@pytest.mark.parametrize("which", ["x", "y"])
def test_plain_log_labels_major_ticks_are_plain_numbers(which):
    major, _ = _formatted(which, 0.01, 1000.0, [0.1, 1.0, 20.0, 1e-5, 1e6])
    assert major == ["0.1", "1", "20", "1e-05", "1e+06"]


def test_plain_log_labels_minor_ticks_depend_on_the_span():
    values = [2.0, 3.0, 4.0, 5.0, 7.0, 30.0]
    # span of 1.3 decades (1..20): mantissas 2, 3 and 5 only
    _, minor = _formatted("y", 1.0, 20.0, values)
    assert minor == ["2", "3", "", "5", "", "30"]
    # span below half a decade (1..3): every minor tick
    _, minor = _formatted("y", 1.0, 3.0, values)
    assert minor == ["2", "3", "4", "5", "7", "30"]
    # three decades: none, so labels never crowd
    _, minor = _formatted("x", 1.0, 1000.0, values)
    assert minor == [""] * 6
    # the other axis keeps matplotlib's own formatter
    figure, axis = plt.subplots()
    axis.set_yscale("log")
    before = type(axis.xaxis.get_major_formatter())
    plots.plain_log_labels(axis, "y")
    assert type(axis.xaxis.get_major_formatter()) is before


def test_legend_below_puts_one_figure_legend_under_the_axes():
    figure, axis = plt.subplots()
    for k in range(5):
        axis.plot([1, 2], [k, k + 1], label=f"curve {k}")
    plots.legend_below(figure, axis, ncol=3)
    assert axis.get_legend() is None
    (legend,) = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == [f"curve {k}" for k in range(5)]
    assert legend._loc == 9  # "upper center": the legend hangs from its anchor
    anchor = legend.get_bbox_to_anchor().transformed(figure.transFigure.inverted())
    assert (anchor.x0, anchor.y0) == (pytest.approx(0.5), pytest.approx(0.0))
    assert legend._ncols == 3


# ---------------------------------------------------------------- drawing and saving


def test_draw_band_uses_the_method_style_and_keeps_positive_means():
    figure, axis = plt.subplots()
    ns = np.array([1.0, 2.0, 3.0, 4.0])
    means = np.array([1.0, -1.0, 0.5, 0.25])
    plots.draw_band(axis, ns, means, means * 0.5, means * 2.0, "direct", "direct-gd")
    (line,) = axis.lines
    assert line.get_xdata().tolist() == [1.0, 3.0, 4.0] and line.get_ydata().tolist() == [1.0, 0.5, 0.25]
    colour, style = METHOD_STYLE["direct-gd"]
    assert line.get_label() == "direct" and line.get_linestyle() == style
    assert to_rgba(line.get_color()) == to_rgba(colour)
    (band,) = axis.collections  # shaded over the positive means
    assert to_rgba(band.get_facecolor()[0])[:3] == to_rgba(colour)[:3]


def test_draw_band_without_spread_draws_no_band_and_an_unknown_method_gets_a_plain_line():
    figure, axis = plt.subplots()
    ns, means = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    plots.draw_band(axis, ns, means, means, means, "one seed", "not-a-method")
    assert len(axis.lines) == 1 and len(axis.collections) == 0
    assert axis.lines[0].get_linestyle() == "-"


def _figure():
    figure, axis = plt.subplots(figsize=(3, 2))
    axis.plot([1, 2, 3], [3, 1, 2], label="a")
    axis.set_title("same rows")
    return figure


def test_save_both_writes_png_and_pdf_and_closes_the_figure(tmp_path):
    figure = _figure()
    paths = plots.save_both(figure, tmp_path / "sub", "stem")
    assert paths == [tmp_path / "sub" / "stem.png", tmp_path / "sub" / "stem.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["stem.pdf", "stem.png"]  # no temporaries
    assert not plt.fignum_exists(figure.number)


def test_save_both_twice_gives_identical_pdf_bytes(tmp_path):
    first = plots.save_both(_figure(), tmp_path / "one", "f")
    second = plots.save_both(_figure(), tmp_path / "two", "f")
    pdf = first[1].read_bytes()
    assert b"CreationDate" not in pdf
    assert pdf == second[1].read_bytes()
    assert first[0].read_bytes() == second[0].read_bytes()


def test_save_both_failing_midway_leaves_the_old_files_and_no_temporary(tmp_path):
    plots.save_both(_figure(), tmp_path, "f")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    figure = _figure()

    def fails(path, **options):
        with open(path, "wb") as handle:
            handle.write(b"half a figure")
        raise RuntimeError("disk full")

    figure.savefig = fails
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save_both(figure, tmp_path, "f")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_save_figure_and_plot_loss_curve(tmp_path):
    figure = _figure()
    plots.save_figure(figure, tmp_path / "a.pdf")
    assert (tmp_path / "a.pdf").read_bytes()[:5] == b"%PDF-"
    assert not plt.fignum_exists(figure.number)
    plots.plot_loss_curve([1.0, 0.5, 0.25], tmp_path / "curve.png", title="loss")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []
