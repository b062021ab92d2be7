"""Metrics of a network's outputs and of its size and training: accuracy, the half-MSE and the
cross-entropy of outputs (:mod:`sims.metrics.quality`); parameter counts and exact FLOPs of a
forward pass and of a GD step (:mod:`sims.metrics.cost`). Plain functions of arrays and integers:
knows nothing of networks, data sets or experiments (ShrinkBench keeps its metrics apart alike)."""
