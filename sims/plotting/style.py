"""The one method-style table: the colour and line style of every method name a figure draws.

Every figure takes a method's look from here (:func:`method_style`), so a method looks the same
in E1's rates, E2's contraction, E5's trade-off and ``gfs compare``. Greedy selection is solid,
selection at initialisation (SNIP, GraSP) dashed, one-shot criteria dotted, iterative pruning
dash-dotted; no two names share a (colour, line style) pair. A fine-tuned twin (``<method>+ft``,
:mod:`sims.baselines.finetune_stage`) is drawn in its one-shot method's colour, solid (the
trade-off figure's rule). The dense network is a plain black line."""

from __future__ import annotations

__all__ = ["METHOD_STYLE", "DEFAULT_STYLE", "method_style"]

#: (matplotlib colour, line style) by method name: the selection methods
#: (sims.selection.engine.METHODS), the pruning methods (sims.baselines.methods.PRUNING_METHODS)
#: and direct training at the same width.
METHOD_STYLE = {
    # greedy selection: solid
    "gfs": ("C0", "-"),
    "gfs-norep": ("C9", "-"),
    "gfs-published": ("darkcyan", "-"),
    "herding": ("C1", "-"),
    "fw": ("C2", "-"),
    "fcfw": ("C3", "-"),
    "greedy-opt": ("C4", "-"),
    "stochastic-gfs": ("C5", "-"),
    "greedi": ("C7", "--"),
    "stochastic-greedy-opt": ("C4", ":"),
    "backward": ("C8", "-."),
    # selection at initialisation: dashed
    "snip": ("C3", "--"),
    "grasp": ("C4", "--"),
    # one-shot criteria: dotted
    "random": ("0.5", ":"),
    "magnitude": ("C6", ":"),
    "activation": ("olive", ":"),
    "taylor": ("C5", ":"),
    "snip-checkpoint": ("salmon", ":"),
    "grasp-checkpoint": ("goldenrod", ":"),
    # iterative pruning: dash-dotted
    "imp-rewind": ("navy", "-."),
    "rigl": ("limegreen", "-."),
    # direct training at the pruned width
    "direct-gd": ("0.3", "--"),
}

#: The look of a name the table does not know (a plug-in method): matplotlib's next colour, solid.
DEFAULT_STYLE = (None, "-")


def method_style(method: str) -> tuple[str | None, str]:
    """(colour, line style) of ``method``: its entry in :data:`METHOD_STYLE`, else
    :data:`DEFAULT_STYLE`."""
    return METHOD_STYLE.get(method, DEFAULT_STYLE)
