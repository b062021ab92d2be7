"""The chunked and Dask engines give the in-memory engine's picks on random networks for every
exact method, also after convergence (issue 24's Done-when).

The reference is ``sims.selection.engine.select`` on the network's (m, N, K) features. Each other
backend runs the same problem to the same n: ``select`` on the factored features (H, B, c), the
chunked engine on the network (features computed chunk by chunk, 3 rows per chunk) and on the
feature array (5 rows per chunk), and 2 Dask shards (4 rows per chunk). Picks must be equal at every step; losses and weights equal to rounding.

"After convergence": the tiny problems (N = 6 or 8 neurons, n = 15 or 20 steps) run fcfw past the
optimum over its support's hull, where the loss stops falling and every support neuron's linear
score ties up to rounding, and the in-hull targets (the mean of three of the network's neurons)
drive the loss to ~1e-32 after a few steps, where every score is rounding noise. There the tie rule
has to decide the same way on every backend, whatever the order of the sums.

On the engine before issue 24's one loop (309a85a), 18 of these cases failed, all after the loss
had stopped falling (fcfw past its support's optimum, herding at a zero residual) on the chunked
network source and the Dask shards; they pass since a6b04da.
"""

import functools

import numpy as np
import pytest
import torch

from sims.nets.features import NetworkSource, neuron_factors, sharded_select
from sims.nets.model import forward, init_network, neuron_features
from sims.selection.engine import select
from sims.selection.sharded import EXACT_METHODS, chunked_select
from sims.selection.sources import ArraySource
from tests.helpers import REFERENCE
from tests.sims.selection.test_sharded import dask_client  # noqa: F401  (the 2-worker cluster fixture)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEED = 3  # stochastic-gfs's seed


@functools.lru_cache(maxsize=None)
def network_problem(kind: str, seed: int, m: int, width: int, outputs: int, dtype: str = "float64"):
    """(model, inputs (m, 4), targets (m, K) float64). kind 'teacher': a random 5-neuron
    network's outputs (the loss stays above 0); 'hull': the mean of neurons 0, 1, 2 of the model
    itself (inside the hull: the loss reaches rounding level)."""
    model = init_network(4, width, outputs, seed=seed, bias=True, dtype=dtype)
    inputs = torch.randn(m, 4, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    if kind == "teacher":
        targets = forward(init_network(4, 5, outputs, seed=seed + 2), inputs)
    else:
        targets = neuron_features(model, inputs)[:, :3].double().mean(1)
    return model, inputs.to(model.dtype), targets


# (kind, seed, m, N, K, n, dtype)
RANDOM = [("teacher", seed, 40, 60, 2, 25, "float64") for seed in (0, 3)] + [("teacher", 7, 40, 60, 3, 25, "float32")]
TINY = [(kind, seed, m, width, outputs, n, "float64") for kind in ("teacher", "hull") for seed in range(3)
        for m, width, outputs, n in ((12, 6, 1, 15), (10, 8, 2, 20))]
BACKENDS = ("factored", "chunked-network", "chunked-array", "dask")


def _run(backend: str, problem: tuple, method: str, client=None):
    kind, seed, m, width, outputs, n, dtype = problem
    model, inputs, targets = network_problem(kind, seed, m, width, outputs, dtype)
    n = min(n, width) if method == "gfs-norep" else n
    if backend == "memory":
        return select(neuron_features(model, inputs), targets, n, method, seed=SEED)
    if backend == "factored":
        return select(neuron_factors(model, inputs), targets, n, method, seed=SEED)
    if backend == "chunked-network":
        return chunked_select(NetworkSource(model, inputs, targets), n, method, chunk_rows=3, seed=SEED)
    if backend == "chunked-array":
        source = ArraySource(neuron_features(model, inputs).numpy(), targets.numpy())
        return chunked_select(source, n, method, chunk_rows=5, seed=SEED)
    return sharded_select(model, inputs, targets, n, method, client=client, shards=2, chunk_rows=4, seed=SEED)


@functools.lru_cache(maxsize=None)
def reference(problem: tuple, method: str):
    return _run("memory", problem, method)


def _cases(problems):
    return [pytest.param(problem, method, backend, id=f"{'-'.join(map(str, problem))}-{method}-{backend}")
            for problem in problems for method in EXACT_METHODS for backend in BACKENDS]


def _assert_same_selection(expected, result, dtype: str):
    """Same picks; losses and weights equal to rounding: float64's REFERENCE, or for float32
    features 1e-6 (~8 float32 ulps: the network's chunk formula and neuron_features round the
    float32 features differently in their last bit). Losses near 0 are compared at the scale of
    the first step's."""
    assert result.indices.tolist() == expected.indices.tolist()
    tolerance = REFERENCE if dtype == "float64" else 1e-6
    scale = float(expected.losses[0])
    np.testing.assert_allclose(result.losses, expected.losses, rtol=tolerance, atol=tolerance * scale)
    np.testing.assert_allclose(result.weights, expected.weights, rtol=0, atol=tolerance)


@pytest.mark.parametrize("problem, method, backend", _cases(RANDOM + TINY))
def test_every_backend_picks_what_the_in_memory_engine_picks(problem, method, backend, request):
    client = request.getfixturevalue("dask_client") if backend == "dask" else None
    _assert_same_selection(reference(problem, method), _run(backend, problem, method, client), problem[-1])


@pytest.mark.parametrize("problem", TINY[:2] + TINY[6:8], ids=lambda p: "-".join(map(str, p)))
def test_the_tiny_problems_do_converge_before_n(problem):
    """What makes the tiny cases a test of "after convergence": fcfw's loss stops falling before
    step n (teacher targets), or every method's loss reaches rounding level (in-hull targets)."""
    losses = reference(problem, "fcfw").losses
    if problem[0] == "hull":
        assert losses[-1] < 1e-25 * losses[0]
    converged = np.flatnonzero(np.diff(losses) == 0)
    assert len(converged) and converged[0] + 2 < len(losses) - 3, losses
