"""The selection engine: the greedy loops (averaging and re-weighted), the tie rule, set-function
greedy, the simplex QP, the published GFS variant and the method registry. Works on arrays and
factored features; knows nothing of networks, data sets or experiments."""
