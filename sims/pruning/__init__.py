"""Pruning a user's network: two-layer and layer-wise pruning, and the trade-off bench `gfs compare`."""
