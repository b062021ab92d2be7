"""The selection engine against plain, obviously-correct slow implementations.

Every reference below recomputes each candidate subnetwork's output and loss from scratch in
numpy float64; the re-weighted ones solve the simplex QP by enumerating supports. Indices
must be identical and losses equal to 1e-10 relative.
"""

from __future__ import annotations

import importlib
import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from sims.selection import arrays, loops
from sims.selection.engine import (METHODS, REWEIGHTED_METHODS, UNIFORM_PREFIX_METHODS, Selection, dense_loss,
                                   method_options, select, subnetwork_output)

from tests.helpers import EXACT, REFERENCE


# ---------------------------------------------------------------------------------------
# Slow references. F: (m, N, K) float64, Y: (m, K).


def first_min(values):
    """Ties (equal up to rounding, 1e-12 relative) go to the lowest index, as docs/THEORY.md asks."""
    values = np.asarray(values, dtype=np.float64)
    return int(np.flatnonzero(values <= values.min() + 1e-12 * np.abs(values).max())[0])


def loss_of(output, Y):
    return 0.5 * np.sum((output - Y) ** 2) / Y.shape[0]


def mean_of(F, chosen):
    return F[:, list(chosen)].mean(axis=1)


def ref_averaging(F, Y, n, *, repeats=True, linearised=False, subsets=None):
    N = F.shape[1]
    chosen, losses = [], []
    for k in range(1, n + 1):
        candidates = range(N) if subsets is None else subsets[k - 1]
        scores = {}
        for i in candidates:
            if not repeats and i in chosen:
                continue
            if linearised:
                previous = mean_of(F, chosen) if chosen else np.zeros_like(Y)
                score = np.sum((previous - Y) * F[:, i])
            else:
                score = loss_of(mean_of(F, chosen + [i]), Y)
            scores[int(i)] = score
        keys = sorted(scores)
        best = keys[first_min([scores[i] for i in keys])]
        chosen.append(best)
        losses.append(loss_of(mean_of(F, chosen), Y))
    return chosen, losses


def ref_fw(F, Y, n):
    N = F.shape[1]
    weights = np.zeros(N)
    first = first_min(([loss_of(F[:, i], Y) for i in range(N)]))
    weights[first] = 1.0
    chosen, losses = [first], [loss_of(F[:, first], Y)]
    for _ in range(1, n):
        f = F @ weights if F.ndim == 2 else np.einsum("mnk,n->mk", F, weights)
        s = first_min(([np.sum((f - Y) * F[:, i]) for i in range(N)]))
        d = F[:, s] - f
        step = float(np.clip(-np.sum((f - Y) * d) / np.sum(d * d), 0, 1)) if np.sum(d * d) > 0 else 0.0
        weights = (1 - step) * weights
        weights[s] += step
        chosen.append(s)
        losses.append(loss_of(np.einsum("mnk,n->mk", F, weights), Y))
    return chosen, losses


def exact_simplex_qp(F, Y, support):
    """min over w on the simplex, supp w in support, of the loss: enumerate faces, solve each
    face's equality-constrained least squares, keep the best feasible. Returns (loss, w)."""
    best_loss, best_w = math.inf, None
    support = sorted(set(support))
    for size in range(1, len(support) + 1):
        for face in itertools.combinations(support, size):
            A = np.stack([(F[:, j] - Y).ravel() for j in face], axis=1)
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size] = A.T @ A
            kkt[:size, size] = kkt[size, :size] = 1
            rhs = np.zeros(size + 1)
            rhs[size] = 1
            try:
                w = np.linalg.solve(kkt, rhs)[:size]
            except np.linalg.LinAlgError:
                continue
            if np.all(w >= 0):
                loss = loss_of(np.einsum("mnk,n->mk", F[:, list(face)], w), Y)
                if loss < best_loss:
                    best_loss, best_w = loss, dict(zip(face, w))
    return best_loss, best_w


def ref_fcfw(F, Y, n):
    N = F.shape[1]
    first = first_min(([loss_of(F[:, i], Y) for i in range(N)]))
    support, chosen = [first], [first]
    loss, w = exact_simplex_qp(F, Y, support)
    losses = [loss]
    for _ in range(1, n):
        f = sum(weight * F[:, j] for j, weight in w.items())
        s = first_min(([np.sum((f - Y) * F[:, i]) for i in range(N)]))
        chosen.append(s)
        support = sorted(set(support + [s]))
        loss, w = exact_simplex_qp(F, Y, support)
        losses.append(loss)
    return chosen, losses


def ref_greedy_opt(F, Y, n):
    N = F.shape[1]
    chosen, losses, support = [], [], []
    for _ in range(n):
        results = [exact_simplex_qp(F, Y, support + [i])[0] for i in range(N)]
        best = first_min((results))
        chosen.append(best)
        support = sorted(set(support + [best]))
        losses.append(results[best])
    return chosen, losses


def ref_greedy_on_f(F, Y, n, ground, sample=None):
    """Greedy on F(S) = L(0) - min over the simplex on S: each step the candidate (not chosen
    yet; ``sample(remaining)`` of them if given) whose best re-weighted loss is lowest."""
    chosen, losses = [], []
    for _ in range(min(n, len(ground))):
        remaining = [i for i in ground if i not in chosen]
        candidates = remaining if sample is None else list(sample(remaining))
        results = [exact_simplex_qp(F, Y, chosen + [i])[0] for i in candidates]
        best = first_min(results)
        chosen.append(int(candidates[best]))
        losses.append(results[best])
    return chosen, losses


def ref_greedi(F, Y, n, seed, parts=2):
    """GreeDi: greedy on F in each part of a seeded random split of the neurons, then on the union."""
    order = np.random.default_rng(0 if seed is None else seed).permutation(F.shape[1])
    picks = [ref_greedy_on_f(F, Y, n, sorted(piece.tolist()))[0] for piece in np.array_split(order, parts)]
    return ref_greedy_on_f(F, Y, n, sorted(i for part in picks for i in part))


def ref_stochastic_greedy_opt(F, Y, n, seed, eps=0.1):
    """Stochastic greedy on F: each step a uniform sample of ceil(N/n ln(1/eps)) of the neurons left."""
    N = F.shape[1]
    size = max(1, math.ceil(N / n * math.log(1 / eps)))
    rng = np.random.default_rng(0 if seed is None else seed)
    return ref_greedy_on_f(F, Y, n, list(range(N)),
                           sample=lambda left: np.sort(rng.choice(left, size=min(size, len(left)), replace=False)))


def ref_backward(F, Y, n):
    alive = list(range(F.shape[1]))
    removed, losses_by_size = [], {len(alive): loss_of(mean_of(F, alive), Y)}
    while len(alive) > 1:
        scores = [loss_of(mean_of(F, [j for j in alive if j != i]), Y) for i in alive]
        victim = alive[first_min((scores))]
        alive.remove(victim)
        removed.append(victim)
        losses_by_size[len(alive)] = loss_of(mean_of(F, alive), Y)
    order = alive + removed[::-1]  # order[:k] = survivors of size k
    return order[:n], [losses_by_size[k] for k in range(1, n + 1)]


def ref_uniform(F, Y, indices):
    return list(indices), [loss_of(mean_of(F, indices[:k]), Y) for k in range(1, len(indices) + 1)]


def reference(method, F, Y, n, seed=None):
    N = F.shape[1]
    if method == "gfs":
        return ref_averaging(F, Y, n)
    if method == "gfs-norep":
        return ref_averaging(F, Y, n, repeats=False)
    if method == "herding":
        return ref_averaging(F, Y, n, linearised=True)
    if method == "stochastic-gfs":
        rng = np.random.default_rng(0 if seed is None else seed)
        size = min(N, max(1, math.ceil(N / n * math.log(1 / 0.01))))
        subsets = [np.sort(rng.choice(N, size=size, replace=False)) for _ in range(n)]
        return ref_averaging(F, Y, n, subsets=subsets)
    if method == "fw":
        return ref_fw(F, Y, n)
    if method == "fcfw":
        return ref_fcfw(F, Y, n)
    if method == "greedy-opt":
        return ref_greedy_opt(F, Y, n)
    if method == "greedi":
        return ref_greedi(F, Y, n, seed)
    if method == "stochastic-greedy-opt":
        return ref_stochastic_greedy_opt(F, Y, n, seed)
    if method == "backward":
        return ref_backward(F, Y, n)
    if method == "random":
        return ref_uniform(F, Y, np.random.default_rng(0 if seed is None else seed).choice(N, n, replace=False))
    if method == "magnitude":
        norms = np.array([np.linalg.norm(F[:, i]) for i in range(N)])
        return ref_uniform(F, Y, np.argsort(-norms, kind="stable")[:n])
    raise AssertionError(method)


def instance(m, N, K, seed):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(m, N, K)) + rng.normal(size=(1, N, K))  # neurons differ in mean, like real ones
    Y = rng.normal(size=(m, K))
    return F, Y


# ---------------------------------------------------------------------------------------
# Equality with the references


SHAPES = [(6, 9, 1), (4, 8, 3), (10, 12, 2)]


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_method_equals_slow_reference(method, shape, seed):
    m, N, K = shape
    F, Y = instance(m, N, K, seed)
    n = 5 if method in ("fcfw", "greedy-opt", "greedi", "stochastic-greedy-opt") else 6
    expected_indices, expected_losses = reference(method, F, Y, n, seed=seed)
    features = F[:, :, 0] if K == 1 else F  # K = 1 also through the (m, N) form
    target = Y[:, 0] if K == 1 else Y
    result = select(features, target, n, method, seed=seed)
    assert result.indices.tolist() == [int(i) for i in expected_indices]
    np.testing.assert_allclose(result.losses, expected_losses, rtol=REFERENCE, atol=0)


# ---------------------------------------------------------------------------------------
# Properties on random instances


@settings(max_examples=40, derandomize=True, deadline=None)
@given(
    method=st.sampled_from(list(METHODS)),
    m=st.integers(1, 8),
    N=st.integers(1, 10),
    K=st.integers(1, 3),
    n=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_properties(method, m, N, K, n, seed):
    F, Y = instance(m, N, K, seed)
    if method in ("gfs-norep", "random", "magnitude", "backward", "greedi", "stochastic-greedy-opt"):
        n = min(n, N)
    result = select(F, Y, n, method, seed=seed)
    assert isinstance(result, Selection) and result.method == method
    assert result.indices.shape == (n,) and result.losses.shape == (n,) and result.weights.shape == (N,)
    assert np.all((0 <= result.indices) & (result.indices < N))
    # the reported final loss is the loss of the reported weights
    output = np.einsum("mnk,n->mk", F, result.weights)
    np.testing.assert_allclose(result.losses[-1], loss_of(output, Y), rtol=REFERENCE, atol=1e-300)
    assert np.all(result.weights >= 0)
    np.testing.assert_allclose(result.weights.sum(), 1.0, rtol=EXACT)
    assert result.support_size == np.count_nonzero(result.weights)
    if method in ("fw", "fcfw", "greedy-opt"):
        assert np.all(np.diff(result.losses) <= 0)
    if method in ("gfs-norep", "random", "magnitude", "backward", "greedi", "stochastic-greedy-opt"):
        assert len(set(result.indices.tolist())) == n
    if method in ("gfs", "gfs-norep", "herding", "stochastic-gfs", "random", "magnitude"):
        counts = np.bincount(result.indices, minlength=N)
        np.testing.assert_array_equal(result.weights, counts / n)


def test_fcfw_and_greedy_opt_reach_the_hull_optimum_and_beat_fw():
    F, Y = instance(8, 6, 1, seed=3)
    optimum, _ = exact_simplex_qp(F, Y, range(6))
    fw = select(F, Y, 30, "fw")
    for method in ("fcfw", "greedy-opt"):
        result = select(F, Y, 8, method)
        np.testing.assert_allclose(result.losses[-1], optimum, rtol=REFERENCE)
        assert result.losses[2] <= fw.losses[2] * (1 + 1e-12)


def test_fw_reaches_tiny_loss_on_a_realisable_low_dimensional_target():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(3, 40, 1))
    Y = F.mean(axis=1)  # the dense network: interior of the hull
    result = select(F, Y, 400, "fw")
    assert np.all(np.diff(result.losses) <= 0)
    assert result.losses[-1] < 1e-20
    # features @ weights re-sums the output and so differs from the maintained one by rounding
    # (~1e-16 per entry): the two losses agree to ~1e-32 absolute, which is all that can hold here
    output = np.einsum("mnk,n->mk", F, result.weights)
    assert abs(result.losses[-1] - loss_of(output, Y)) < 1e-30


def test_ties_go_to_the_lowest_index():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(5, 6, 2))
    Y = rng.normal(size=(5, 2))
    best = first_min(([loss_of(F[:, i], Y) for i in range(6)]))
    F = np.concatenate([F, F[:, [best]]], axis=1)  # neuron 6 duplicates the best neuron
    F[:, [0, best]] = F[:, [best, 0]]  # ... and so does neuron 0 now; 6 must never win over 0
    for method in ("gfs", "gfs-norep", "fw", "fcfw", "greedy-opt", "stochastic-gfs"):
        assert select(F, Y, 1, method).indices[0] == 0, method
    assert select(F, Y, 2, "gfs-norep").indices.tolist()[:1] == [0]
    F_equal = np.ones((3, 4, 1))
    assert select(F_equal, np.zeros(3), 4, "magnitude").indices.tolist() == [0, 1, 2, 3]
    assert select(F_equal, np.zeros(3), 2, "backward").indices.tolist() == [3, 2]


def test_float32_features_and_torch_inputs():
    F, Y = instance(20, 30, 2, seed=5)
    expected = select(F, Y, 8, "gfs")
    for dtype in (torch.float32, torch.float64):
        result = select(torch.from_numpy(F).to(dtype), torch.from_numpy(Y), 8, "gfs")
        assert result.indices.tolist() == expected.indices.tolist()
        rtol = 1e-10 if dtype == torch.float64 else 1e-5
        np.testing.assert_allclose(result.losses, expected.losses, rtol=rtol)


def test_neuron_major_views_are_used_without_copying():
    buffer = torch.randn(7, 5, 3)  # (N, m, K) contiguous
    view = buffer.permute(1, 0, 2)  # (m, N, K), as sims.nets.model.neuron_features returns
    assert arrays.neuron_major(view).data_ptr() == buffer.data_ptr()
    matrix = torch.randn(5, 7)  # (m, N) row-major: used as its transpose
    assert arrays.neuron_major(matrix).data_ptr() == matrix.data_ptr()
    single_output = torch.randn(7, 5, 1)
    assert arrays.neuron_major(single_output.permute(1, 0, 2)).data_ptr() == single_output.data_ptr()
    np.testing.assert_array_equal(arrays.neuron_major(view).numpy(), buffer.reshape(7, 15).numpy())


def test_subnetwork_output_matches_weights():
    F, Y = instance(5, 9, 2, seed=1)
    result = select(F, Y, 4, "fcfw")
    np.testing.assert_allclose(subnetwork_output(F, result.weights), np.einsum("mnk,n->mk", F, result.weights))
    assert result.to_dict()["indices"] == result.indices.tolist()


# ---------------------------------------------------------------------------------------
# Bad input


def test_bad_input_is_rejected_with_the_parameter_named():
    F, Y = instance(5, 6, 2, seed=0)
    with pytest.raises(ValueError, match="unknown method 'nope'.*gfs.*backward"):
        select(F, Y, 2, "nope")
    for n in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            select(F, Y, n)
    for method in ("gfs-norep", "random", "magnitude", "backward"):
        with pytest.raises(ValueError, match="n = 7 exceeds the number of neurons N = 6"):
            select(F, Y, 7, method)
    assert select(F, Y, 7, "gfs").indices.shape == (7,)  # with replacement, n > N is fine
    with pytest.raises(ValueError, match="target must have shape"):
        select(F, Y[:4], 2)
    with pytest.raises(ValueError, match="target must have shape"):
        select(F, Y[:, 0], 2)
    with pytest.raises(ValueError, match="features must have shape"):
        select(F[0, 0], Y, 2)
    with pytest.raises(ValueError, match="features must be a numpy array"):
        select({"F": 1}, Y, 2)
    with pytest.raises(ValueError, match="features must hold real numbers"):
        select(np.array([["a"]]), Y, 2)
    bad = F.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="features contain NaN or inf"):
        select(bad, Y, 2)
    bad[1, 2, 0] = np.inf
    with pytest.raises(ValueError, match="features contain NaN or inf"):
        select(bad, Y, 2)
    bad_target = Y.copy()
    bad_target[0, 0] = -np.inf
    with pytest.raises(ValueError, match="target contains NaN or inf"):
        select(F, bad_target, 2)
    with pytest.raises(ValueError, match=r"'gfs' does not take option\(s\) eps; it accepts: no options"):
        select(F, Y, 2, "gfs", eps=0.1)
    with pytest.raises(ValueError, match=r"does not take option\(s\) bogus; it accepts: eps"):
        select(F, Y, 2, "stochastic-gfs", bogus=1)
    with pytest.raises(ValueError, match="eps must be a number in"):
        select(F, Y, 2, "stochastic-gfs", eps=2.0)
    assert method_options("stochastic-gfs") == {"eps": 0.01}


@pytest.mark.parametrize("method", list(METHODS))
def test_reweighted_methods_are_exactly_those_whose_weights_are_not_the_uniform_prefix(method):
    """The fact each method's record states: a method that is not re-weighted has as step-n
    weights the pick counts of indices[:n] divided by n; a re-weighted one does not (on this
    instance); UNIFORM_PREFIX_METHODS and REWEIGHTED_METHODS (P4's family) follow the records."""

    rng = np.random.default_rng(5)
    features, target = rng.standard_normal((6, 20)), rng.standard_normal(6) * 0.3
    selection = select(features, target, 8, method, seed=0)
    uniform = np.bincount(selection.indices, minlength=20) / 8
    assert np.allclose(selection.weights, uniform) == (not METHODS[method].reweighted)
    assert (method in UNIFORM_PREFIX_METHODS) == (not METHODS[method].reweighted)
    assert set(REWEIGHTED_METHODS) == {"fw", "fcfw", "greedy-opt"}


@pytest.mark.parametrize("method", list(METHODS))
def test_recorded_path_weights_are_the_subnetworks_whose_losses_the_run_reports(method):
    """For every method and every recorded step k: the weights lie on the simplex, their
    subnetwork's loss (computed here from the features) is losses[k-1], and for the methods
    whose steps do not depend on n they are bit for bit the weights of a separate run to k."""
    rng = np.random.default_rng(11)
    features = rng.standard_normal((9, 40, 2))
    target = features[:, :6].mean(1) + 0.05 * rng.standard_normal((9, 2))
    n = 10
    selection = select(features, target, n, method, seed=4, record_steps=[1, 3, 7, 10])
    assert list(selection.path_weights) == [1, 3, 7, 10]
    assert np.array_equal(selection.path_weights[n], selection.weights)
    for k, weights in selection.path_weights.items():
        assert weights.shape == (40,) and np.all(weights >= 0) and abs(weights.sum() - 1) < EXACT
        output = np.einsum("mnk,n->mk", features, weights)
        loss = 0.5 * np.mean(np.sum((output - target) ** 2, axis=1))
        assert loss == pytest.approx(selection.losses[k - 1], rel=REFERENCE)
        separate = select(features, target, k, method, seed=4).weights
        if not METHODS[method].depends_on_n:
            assert np.array_equal(weights, separate)
    if METHODS[method].depends_on_n:  # the record says so: on this instance some step differs
        assert any(not np.array_equal(w, select(features, target, k, method, seed=4).weights)
                   for k, w in selection.path_weights.items())


def test_a_reweighted_method_that_does_not_record_its_steps_is_named(monkeypatch):
    engine = importlib.import_module("sims.selection.engine")  # the module (sims.select is the function)

    def silent(problem, n, seed):  # re-weighted, but never calls problem.record
        weights = np.zeros(problem.width)
        weights[0] = 1.0
        return np.zeros(n, dtype=np.int64), np.ones(n), weights

    monkeypatch.setitem(engine.METHODS, "silent", engine.SelectionMethod(silent, reweighted=True))
    F, Y = np.ones((3, 4)), np.zeros(3)
    assert select(F, Y, 2, "silent").path_weights == {}
    with pytest.raises(RuntimeError, match=r"method 'silent' did not record its weights at steps \[2\]"):
        select(F, Y, 2, "silent", record_steps=[2])


def test_record_steps_outside_one_to_n_are_rejected():
    F, Y = np.ones((3, 4)), np.zeros(3)
    assert select(F, Y, 2, "gfs").path_weights == {}
    for bad in ([0], [3], [1.5], [True], 5, ["1"]):
        with pytest.raises(ValueError, match=r"record_steps must be integers in \[1, n = 2\]"):
            select(F, Y, 2, "gfs", record_steps=bad)


@pytest.mark.parametrize("method", ["fcfw", "greedy-opt"])
def test_reweighted_steps_allocate_nothing_of_support_size(method):
    """MNIST-sized rows (D = m K = 40,000, float32): no step allocates more than the scratch
    block (8 float64 rows, 2.4 MiB), where the support's (|S|, D) float64 copies and the 104-row
    blocks of centred products (12-33 MB) were re-allocated at every step. Only fcfw's store of
    its support rows grows beyond it, by doubling: at most log2(n) times in a run."""
    from torch.profiler import ProfilerActivity, profile

    generator = torch.Generator().manual_seed(0)
    buffer = torch.randn(24, 4000, 10, generator=generator)  # (N, m, K), neuron_features' layout
    target = buffer.mean(0) + 0.5 * torch.randn(4000, 10, generator=generator)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded:
        result = select(buffer.permute(1, 0, 2), target, 16, method)
    assert result.support_size >= 9  # the support grew past one scratch block
    scratch = max(arrays.SCRATCH_BYTES, arrays.ROW_GROUP * 40_000 * 8)
    larger = [event.cpu_memory_usage for event in recorded.events() if event.cpu_memory_usage > scratch]
    assert len(larger) <= (math.log2(16) if method == "fcfw" else 0)


def test_only_the_passes_over_all_features_use_more_threads(monkeypatch):
    """Small operations (vectors of length D, products over the support, the simplex solves)
    run on one thread, torch's and numpy's BLAS alike; the GEMV over all N features runs on
    ``threads`` threads; both counts are restored afterwards."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    F, Y = instance(8, 30, 2, seed=4)
    buffer = torch.from_numpy(np.ascontiguousarray(F.transpose(1, 0, 2)))  # (N, m, K): phi is a view of it
    seen = {"full": set(), "support": set(), "solve": set()}
    plain_mv, plain_solve = torch.mv, loops.min_norm_point

    def mv(matrix, vector, **kw):
        seen["full" if matrix.data_ptr() == buffer.data_ptr() else "support"].add(torch.get_num_threads())
        return plain_mv(matrix, vector, **kw)

    def solve(*args, **kw):
        seen["solve"].add((torch.get_num_threads(), *blas_threads()))
        return plain_solve(*args, **kw)

    monkeypatch.setattr(torch, "mv", mv)
    monkeypatch.setattr(loops, "min_norm_point", solve)
    threads, blas = torch.get_num_threads(), blas_threads()
    torch.set_num_threads(2)
    try:
        for method in ("fw", "fcfw", "greedy-opt", "gfs"):
            select(buffer.permute(1, 0, 2), Y, 6, method, threads=2)  # an explicit count overrides
            assert torch.get_num_threads() == 2 and blas_threads() == blas
    finally:
        torch.set_num_threads(threads)
    assert seen["full"] == {2} and seen["support"] == {1}
    assert seen["solve"] == {(1,) + (1,) * len(blas)}


@pytest.mark.parametrize("method", ["gfs", "fw", "backward"])
def test_support_pairs_each_kept_neuron_with_its_weight(method):
    rng = np.random.default_rng(3)
    features, target = rng.standard_normal((15, 12)), rng.standard_normal(15)
    selection = select(features, target, 6, method)
    indices, weights = selection.support()
    assert indices.dtype == np.int64 and len(indices) == len(weights) == selection.support_size
    assert np.all(np.diff(indices) > 0) and np.all(weights > 0)
    full = np.zeros(12)
    full[indices] = weights
    np.testing.assert_array_equal(full, selection.weights)  # nothing lost, nothing moved


@pytest.mark.parametrize("shape", [(9, 7), (9, 7, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_loss_is_the_loss_of_the_plain_mean_of_the_neurons(shape, dtype):
    rng = np.random.default_rng(4)
    features = rng.standard_normal(shape).astype(dtype)
    target = rng.standard_normal((shape[0],) + shape[2:])
    dense = features.astype(np.float64).mean(axis=1)
    by_hand = 0.5 * np.sum((dense - target) ** 2) / shape[0]
    assert dense_loss(features, target) == pytest.approx(by_hand, rel=EXACT)
    # the size-N subnetwork of uniform weights is the dense network
    uniform = subnetwork_output(features, np.full(shape[1], 1 / shape[1]))
    assert dense_loss(features, target) == pytest.approx(0.5 * np.sum((uniform - target) ** 2) / shape[0], rel=EXACT)



def test_the_default_thread_count_is_the_engines_choice(monkeypatch):
    """threads=None: the passes run on sims.selection.threads.pass_threads()'s count."""
    engine = importlib.import_module("sims.selection.engine")
    seen = []
    plain_mv = torch.mv

    def mv(matrix, vector, **kw):
        seen.append(torch.get_num_threads())
        return plain_mv(matrix, vector, **kw)

    monkeypatch.setattr(engine, "resolve_threads", lambda threads: 3 if threads is None else threads)
    monkeypatch.setattr(torch, "mv", mv)
    F, Y = instance(8, 30, 2, seed=4)
    select(F, Y, 3, "herding")
    assert set(seen) == {3}
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        monkeypatch.undo()
        select(F, Y, 3, "gfs", threads=0)
