"""What the tests share: the numerical tolerances, in one place, and a row filter.

Tolerances are relative unless a test says otherwise. Each names why two numbers may differ.
"""

#: The same float64 quantity computed by two exact formulas: they differ by summation order only.
EXACT = 1e-12
#: The engine against its slow, literal reference over a whole greedy path: rounding accumulates
#: over the steps (each step's arg-min is the same; the losses drift in the last digits).
REFERENCE = 1e-10
#: Slack for rounding when a proposition's inequality is checked on float64 numbers (bound * (1 + ROUNDING)).
ROUNDING = 1e-9


def by_metric(rows, metric, **equal):
    """The rows whose metric is `metric` and whose columns equal the keyword values."""
    return [r for r in rows if r["metric"] == metric and all(r.get(k) == v for k, v in equal.items())]


def quiet_run(experiment: str, config, out):
    """Run an experiment through the runner without progress output; (results folder, its rows)."""
    from sims.experiments.runner import run_experiment
    from sims.results.rows import load_results

    folder = run_experiment(experiment, config, out=out, progress=False, log=lambda text: None)
    return folder, load_results(folder)
