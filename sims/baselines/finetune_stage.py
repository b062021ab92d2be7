"""Fine-tuning as a stage of its own, and the two equal-budget views of the trade-off bench (E5).

A pruned network of a one-shot method (a criterion applied to the checkpoint: the GFS family,
Taylor, activation, magnitude, random; every method of :data:`sims.baselines.methods.PRUNING_METHODS`
with ``trains=False``) is fine-tuned by F full-batch GD steps of the problem's budget (its lr and
loss form, F = ``problem.budget.iterations``) at its own width, from its pruned weights (not a
re-initialisation). Its rows are reported under ``<method>+ft`` (e.g. ``gfs+ft``).

Two budgets after the checkpoint, per nominal width n:

- equal training steps: every procedure that trains (direct GD, RigL, SNIP and GraSP at
  initialisation, IMP's rounds together, every ``+ft``) runs F steps;
- equal training FLOPs: every such procedure spends at most B(n) = F x (the FLOPs of one GD step
  at width n) (:func:`sims.baselines.methods.training_flops`). A procedure whose step-view run spends a
  different amount (IMP's rounds at widths above n; a ``+ft`` of GFS with replacement, whose
  merged repeats leave width n' < n) is run again for the FLOPs view and reported as
  ``<name>@flops`` (e.g. ``imp-rewind@flops``, ``gfs+ft@flops``); elsewhere the two views coincide
  and :func:`equal_flops_view` reads the step-view rows.
"""

from __future__ import annotations

from dataclasses import replace

from sims.baselines.methods import PRUNING_METHODS, PruningProblem, PruningResult, training_flops
from sims.nets.train import train

__all__ = [
    "FINETUNED", "AT_EQUAL_FLOPS", "finetuned_name", "flops_name", "base_name", "is_one_shot", "finetune",
    "equal_flops_steps", "equal_flops_view",
]

FINETUNED = "+ft"  # suffix of a one-shot method's fine-tuned rows
AT_EQUAL_FLOPS = "@flops"  # suffix of a procedure's rows in the equal-FLOPs view, where it differs


def finetuned_name(method: str) -> str:
    return method + FINETUNED


def flops_name(name: str) -> str:
    return name + AT_EQUAL_FLOPS


def base_name(name: str) -> str:
    """The step-view name of a row's method: ``gfs+ft@flops`` -> ``gfs+ft``."""
    return name[:-len(AT_EQUAL_FLOPS)] if name.endswith(AT_EQUAL_FLOPS) else name


def is_one_shot(method: str) -> bool:
    """A registered method that prunes the checkpoint without training (it gets a ``+ft`` twin)."""
    return method in PRUNING_METHODS and not PRUNING_METHODS[method].trains


def finetune(problem: PruningProblem, pruned: PruningResult, steps: int | None = None) -> PruningResult:
    """``steps`` (default F = problem.budget.iterations) GD steps of the problem's budget on
    ``pruned.network`` at its width, on the problem's training data. The result keeps the pruned
    indices, cost and path; its train_steps and train_flops count the fine-tuning (the one-shot
    method itself trains nothing). Raises sims.nets.train.TrainingDiverged as :func:`sims.nets.train.train`."""
    steps = problem.budget.iterations if steps is None else int(steps)
    budget = replace(problem.budget, iterations=steps, checkpoints=(), target_loss=None)
    result = train(pruned.network, problem.inputs, problem.targets, budget)
    return replace(pruned, network=result.model, train_steps=result.steps,
                   train_flops=training_flops(problem, result.model.width, result.steps),
                   train_losses=(float(result.losses[0]), float(result.losses[-1])))


def equal_flops_steps(problem: PruningProblem, n: int, width: int) -> int:
    """GD steps at ``width`` that spend at most B(n) = F steps' training FLOPs at width n (rounded down)."""
    budget = training_flops(problem, n, problem.budget.iterations)
    return int(budget // training_flops(problem, width, 1))


def equal_flops_view(rows: list[dict]) -> list[dict]:
    """The rows of the equal-FLOPs view: every ``<name>@flops`` row in place of ``<name>``'s rows
    of the same (dataset, seed, n), renamed ``<name>``; rows without an ``@flops`` twin unchanged.
    Rows without n (n(eps)) of a name with ``@flops`` twins are dropped (they belong to one view)."""
    twins = {(r["dataset"], r["seed"], r["n"], base_name(r["method"])) for r in rows
             if r["method"].endswith(AT_EQUAL_FLOPS)}
    renamed = {base_name(r["method"]) for r in rows if r["method"].endswith(AT_EQUAL_FLOPS)}
    view = []
    for row in rows:
        method = row["method"]
        if method.endswith(AT_EQUAL_FLOPS):
            view.append({**row, "method": base_name(method)})
        elif row.get("n") is None and method in renamed:
            continue
        elif (row["dataset"], row["seed"], row["n"], method) not in twins:
            view.append(row)
    return view
