"""Exact full-batch gradient descent on two-layer networks, with analytic gradients.

Loss forms (E = f(X) - Y, shape (m, K)):

- ``"mean"``: L = 0.5 * mean_j ||E_j||^2   (docs/THEORY.md section 1; what selection reports)
- ``"sum"``:  L = 0.5 * sum_j ||E_j||^2    (the summed loss of P5, Du et al.)

Gradients, with Z = X A^T + bias, H = act(Z), f = s H B, s = output_scale = c / N, and
dL/df = E / m (mean) or E (sum):

    dL/dB = s H^T dL/df                    (N, K)
    dL/dZ = (s dL/df B^T) * act'(Z)        (m, N)
    dL/dA = dL/dZ^T X,  dL/dbias = sum_j dL/dZ_j

Learning-rate convention: in mean-field scaling each neuron's gradient is O(1/N), so the step
applied to every parameter is ``lr * N``; the dynamics then do not depend on the width (the
mean-field limit). In NTK scaling the step is ``lr`` as given. ``TrainConfig.lr`` is thus the
width-independent learning rate in both cases.

Modes: ``"both"`` trains both layers; ``"first"`` only the first layer (and its bias), the
second fixed (with ``init_network(second_layer='sign')`` this is the NTK set-up of P5);
``"second"`` only the second layer (random features).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError
from sims.foundations.io import check_choice
from sims.nets.model import TwoLayerNet, forward

__all__ = [
    "TRAIN_MODES", "LOSS_FORMS", "TrainingDiverged", "TrainConfig", "TrainResult", "loss_and_gradients",
    "evaluate_loss", "epoch_batches", "train"
]

TRAIN_MODES = ("both", "first", "second")
LOSS_FORMS = ("mean", "sum")


class TrainingDiverged(RuntimeError):
    """Gradient descent produced a non-finite loss or a loss blow-up."""


@dataclass(frozen=True)
class TrainConfig:
    """Full-batch GD settings.

    lr: width-independent learning rate (> 0); see the module docstring for the convention.
    iterations: maximum number of GD steps (>= 0).
    mode: which layers are trained, one of TRAIN_MODES.
    loss_form: "mean" or "sum" (the loss that is differentiated and recorded).
    target_loss: stop as soon as the loss is at most this (None: run all iterations).
    checkpoints: iterations t (0 <= t <= iterations) at which to keep a copy of the model
        (the copy holds the parameters after t steps).
    blowup_factor: the run is declared divergent when the loss exceeds this multiple of the
        initial loss (or is not finite).
    batch_size: None for exact full-batch GD. An integer b switches to mini-batch SGD: then
        ``iterations`` counts epochs; each epoch draws one permutation of the m examples (from
        ``shuffle_seed`` and the epoch number, so a run is reproducible and can be resumed
        from any epoch) and takes one step per consecutive block of b examples (the last may
        be smaller), each on the loss of that block in ``loss_form`` (mean over the block, or
        its sum). ``losses``, ``checkpoints``, ``target_loss`` and ``observe`` then refer to
        the full-data loss at epoch boundaries. b >= m is full-batch GD, step for step.
    shuffle_seed: seed of the SGD permutations (unused by full-batch GD).
    start_epoch: the number of epochs already run before ``model`` (SGD only): epoch e of this
        run uses the permutation of epoch start_epoch + e, so training resumed from a
        checkpoint continues the original trajectory.
    """

    lr: float = field(default=1.0, metadata={"help": "width-independent learning rate", "range": "positive"})
    iterations: int = field(default=300, metadata={"help": "GD steps, or SGD epochs", "range": "non-negative"})
    mode: str = field(default="both", metadata={"help": "trained layers", "choices": lambda: TRAIN_MODES})
    loss_form: str = field(default="mean", metadata={"help": "loss", "choices": lambda: LOSS_FORMS})
    target_loss: float | None = field(default=None, metadata={"help": "stop once the loss is at most this",
                                                              "range": "non-negative"})
    checkpoints: tuple[int, ...] = ()
    blowup_factor: float = constrained(1e6, value_range="positive")
    batch_size: int | None = constrained(None, value_range="positive")
    shuffle_seed: int = constrained(0, value_range="non-negative")
    start_epoch: int = constrained(0, value_range="non-negative")

    def __post_init__(self):
        check_fields(self)
        bad = [t for t in self.checkpoints if not (0 <= t <= self.iterations)]
        if bad:
            raise InputError(f"checkpoints must lie in [0, iterations={self.iterations}], got {bad}")


@dataclass(frozen=True)
class TrainResult:
    """model: the trained network; losses: float64 array, losses[t] = loss after t steps
    (length = steps run + 1); checkpoints: iteration -> model copy; steps: steps run."""

    model: TwoLayerNet
    losses: np.ndarray
    checkpoints: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.losses) - 1

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def _loss_from_residual(residual: torch.Tensor, loss_form: str) -> torch.Tensor:
    total = 0.5 * (residual * residual).sum()
    return total / residual.shape[0] if loss_form == "mean" else total


@dataclass(frozen=True)
class _ActivationKernels:
    """act and act' of one activation, writing into preallocated (rows, N) tensors, bitwise equal
    to ``sims.nets.model.ACTIVATIONS`` (the same torch kernels, in the same order).

    forward(z, out): out = act(z); ``out`` may be ``z`` itself.
    derivative(z, hidden, out, scratch): out = act'(z), hidden = act(z); ``scratch`` is a
    (rows, N) tensor it may overwrite.
    from_hidden: act' is a function of act(Z) alone, so act(Z) overwrites Z in place and
    ``derivative`` does not read ``z`` (it may then be None)."""

    forward: Callable[[torch.Tensor, torch.Tensor], None]
    derivative: Callable[[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor], None]
    from_hidden: bool


def _relu_derivative_into(z, hidden, out, scratch):
    # the model's (Z > 0).to(dtype): relu(Z) > 0 exactly when Z > 0 (also for NaN). Not sign(),
    # which keeps the sign of relu(-0.0) = -0.0, nor heaviside(), a scalar loop 8x slower
    torch.gt(hidden, 0, out=out)


def _tanh_derivative_into(z, hidden, out, scratch):
    torch.mul(hidden, hidden, out=out).neg_().add_(1)  # 1 - tanh(Z)**2 (x**2 is x * x)


def _sigmoid_derivative_into(z, hidden, out, scratch):
    torch.neg(hidden, out=out).add_(1).mul_(hidden)  # s * (1 - s)


def _gelu_derivative_into(z, hidden, out, scratch):
    torch.div(z, math.sqrt(2), out=out).erf_().add_(1).mul_(0.5)  # Phi(Z) = 0.5 * (1 + erf(Z / sqrt 2))
    torch.mul(z, -0.5, out=scratch).mul_(z).exp_().div_(math.sqrt(2 * math.pi)).mul_(z)  # Z * pdf(Z)
    out.add_(scratch)


# torch.relu is clamp_min(Z, 0); F.softplus and F.gelu are these _C._nn kernels (they have out=)
_KERNELS = {
    "relu": _ActivationKernels(lambda z, out: torch.clamp_min(z, 0, out=out), _relu_derivative_into, True),
    "tanh": _ActivationKernels(lambda z, out: torch.tanh(z, out=out), _tanh_derivative_into, True),
    "sigmoid": _ActivationKernels(lambda z, out: torch.sigmoid(z, out=out), _sigmoid_derivative_into, True),
    "softplus": _ActivationKernels(lambda z, out: torch._C._nn.softplus(z, 1.0, 20.0, out=out),
                                   lambda z, hidden, out, scratch: torch.sigmoid(z, out=out), False),
    "gelu": _ActivationKernels(lambda z, out: torch._C._nn.gelu(z, out=out), _gelu_derivative_into, False),
}


@contextmanager
def _one_torch_thread():
    """torch's intra-op pool on one thread inside the block (then restored).

    Besides the two products with X, a step is memory-bound work on (m, N) arrays (the
    activation, its derivative, dL/dZ) and thin products with inner or outer dimension K. A
    second thread gains little there, and when another process holds a core every parallel
    region waits for a descheduled thread: at m = 5000, N = 1000, K = 10 under load that part
    of a step took 114 ms on one thread against 266 ms on two. At one thread nothing changes;
    with more, these operations give the bits of one thread (the thread count is process-wide,
    so concurrent ``train`` calls from several Python threads would see each other's setting).
    """
    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Workspace:
    """The buffers of the loss-and-gradient pass on up to ``capacity`` examples of one model,
    allocated on first use and reused by every later pass (views of their first rows serve a
    smaller pass, e.g. the last SGD batch of an epoch).

    Buffers: "preactivation", "hidden", "derivative", "hidden_grad" of shape (capacity, N)
    ("hidden" is "preactivation" when act(Z) overwrites Z); "inputs" (capacity, d) and
    "targets" (capacity, K) for SGD batches; and one gradient per parameter name, shaped like
    the parameter. A pass overwrites the buffers of the previous one."""

    def __init__(self, model: TwoLayerNet, capacity: int):
        self.model = model
        self.capacity = capacity
        self.kernels = _KERNELS[model.activation]
        self._buffers: dict[str, torch.Tensor] = {}

    def rows(self, name: str, rows: int) -> torch.Tensor:
        """The first ``rows`` rows of the (capacity, columns) buffer ``name``."""
        if name == "hidden" and self.kernels.from_hidden:
            name = "preactivation"
        if name not in self._buffers:
            model = self.model
            columns = {"inputs": model.input_dim, "targets": model.output_dim}.get(name, model.width)
            self._buffers[name] = torch.empty((self.capacity, columns), dtype=model.dtype, device=model.device)
        return self._buffers[name][:rows]

    def gradient(self, name: str) -> torch.Tensor:
        """The buffer of the gradient of parameter ``name`` (its shape)."""
        key = "grad:" + name
        if key not in self._buffers:
            self._buffers[key] = torch.empty_like(getattr(self.model, name))
        return self._buffers[key]


def loss_and_gradients(
    model: TwoLayerNet, inputs: torch.Tensor, targets: torch.Tensor, loss_form: str = "mean"
) -> tuple[float, dict[str, torch.Tensor]]:
    """The loss and its exact gradients with respect to every parameter.

    inputs (m, d), targets (m, K), both on the model's device and dtype. Returns
    (loss, {"first_weight": (N, d), "second_weight": (N, K), "first_bias": (N,) if present}).
    """
    check_choice("loss_form", loss_form, LOSS_FORMS)
    names = ["first_weight", "second_weight"] + (["first_bias"] if model.first_bias is not None else [])
    loss, grads, _ = _loss_gradients_hidden(model, inputs, targets, loss_form, names,
                                            _Workspace(model, inputs.shape[0]))
    return loss, grads


def _loss_gradients_hidden(model, inputs, targets, loss_form, names, workspace, hidden=None):
    """(loss, gradients of the parameters in ``names``, act(Z) (m, N)), all three written into
    ``workspace`` buffers (valid until its next pass), with no (m, N) allocation.

    ``hidden`` may be passed when the first layer is not differentiated (mode "second"): act(Z)
    is then the same at every step and is not recomputed. The arithmetic is the same either way,
    and bitwise that of the plain formulas of the module docstring evaluated left to right.
    Only the two products with X (m*d*N multiply-adds each) use the caller's torch threads; the
    rest runs on one thread (see :func:`_one_torch_thread`)."""
    rows = inputs.shape[0]
    kernels = workspace.kernels
    first_layer = "first_weight" in names or "first_bias" in names
    if hidden is not None and first_layer:
        raise ValueError("act(Z) can only be reused when the first layer is not differentiated")
    z = None
    if hidden is None:
        z = workspace.rows("preactivation", rows)
        torch.mm(inputs, model.first_weight.T, out=z)
    with _one_torch_thread():
        if z is not None:
            if model.first_bias is not None:
                z.add_(model.first_bias)
            hidden = workspace.rows("hidden", rows)
            kernels.forward(z, hidden)
            if kernels.from_hidden:
                z = None  # overwritten by act(Z)
        scale = model.output_scale
        residual = scale * (hidden @ model.second_weight) - targets
        loss = _loss_from_residual(residual, loss_form)
        output_grad = residual / rows if loss_form == "mean" else residual
        grads = {}
        if "second_weight" in names:
            grads["second_weight"] = torch.mm(hidden.T, output_grad,
                                              out=workspace.gradient("second_weight")).mul_(scale)
        if first_layer:
            z_grad = workspace.rows("hidden_grad", rows)
            derivative = workspace.rows("derivative", rows)
            kernels.derivative(z, hidden, derivative, z_grad)  # z_grad serves as scratch first
            torch.mm(output_grad, model.second_weight.T, out=z_grad).mul_(scale).mul_(derivative)
    if first_layer:
        grads["first_weight"] = torch.mm(z_grad.T, inputs, out=workspace.gradient("first_weight"))
        if model.first_bias is not None:
            with _one_torch_thread():
                grads["first_bias"] = torch.sum(z_grad, 0, out=workspace.gradient("first_bias"))
    return float(loss), grads, hidden


def evaluate_loss(model: TwoLayerNet, inputs, targets, loss_form: str = "mean") -> float:
    """The loss of ``model`` on (inputs, targets) in the given form, as a Python float."""
    targets = torch.as_tensor(targets, device=model.device, dtype=model.dtype)
    return float(_loss_from_residual(forward(model, inputs) - targets.reshape(targets.shape[0], -1), loss_form))


def _trained_parameters(model: TwoLayerNet, mode: str) -> list[str]:
    names = []
    if mode in ("both", "first"):
        names.append("first_weight")
        if model.first_bias is not None:
            names.append("first_bias")
    if mode in ("both", "second"):
        names.append("second_weight")
    return names


def epoch_batches(m: int, batch_size: int, shuffle_seed: int, epoch: int) -> list[np.ndarray]:
    """The example indices of each SGD step of one epoch: a permutation of range(m) drawn from
    (shuffle_seed, epoch), cut into consecutive blocks of ``batch_size``."""
    order = np.random.default_rng([int(shuffle_seed), int(epoch)]).permutation(m)
    return [order[start:start + batch_size] for start in range(0, m, batch_size)]


def train(
    model: TwoLayerNet,
    inputs,
    targets,
    config: TrainConfig,
    *,
    progress: bool = False,
    observe: Callable[[int, TwoLayerNet, torch.Tensor], None] | None = None,
) -> TrainResult:
    """Run full-batch GD (or mini-batch SGD, see ``TrainConfig.batch_size``) from ``model``
    (not modified; a copy is trained).

    inputs (m, d) and targets (m, K) or (m,) (numpy or torch; moved to the model's device and
    dtype). Stops after ``config.iterations`` steps (epochs for SGD) or once the loss is at
    most ``config.target_loss``. Raises :class:`TrainingDiverged`, naming the learning rate, if
    the loss becomes non-finite or exceeds ``config.blowup_factor`` times its initial value.
    ``progress`` shows a tqdm bar. ``observe(t, model, hidden)``, if given, is called at every
    recorded t (the parameters after t steps, and act(Z) (m, N) on all of ``inputs`` for them)
    before the next update; it must not modify its arguments, and must copy what it keeps: both
    are overwritten in place by the next step (``hidden`` is a buffer reused every step).

    Memory: four (m, N) buffers at most (Z, act(Z), act'(Z), dL/dZ; act(Z) overwrites Z for
    relu, tanh and sigmoid), plus as many (b, N) for SGD with batch size b, allocated at the
    first step and reused, so later steps allocate nothing of size (m, N).
    """
    model = model.clone()
    inputs = torch.as_tensor(inputs, device=model.device, dtype=model.dtype)
    targets = torch.as_tensor(targets, device=model.device, dtype=model.dtype)
    if targets.ndim == 1:
        targets = targets.unsqueeze(1)
    if inputs.ndim != 2 or inputs.shape[1] != model.input_dim:
        raise InputError(f"inputs must have shape (m, {model.input_dim}), got {tuple(inputs.shape)}")
    if targets.shape != (inputs.shape[0], model.output_dim):
        raise InputError(f"targets must have shape ({inputs.shape[0]}, {model.output_dim}), got {tuple(targets.shape)}")

    step_size = config.lr * model.width if model.scaling == "mean-field" else config.lr
    names = _trained_parameters(model, config.mode)
    fixed_hidden = config.mode == "second"  # random features: act(Z) never changes
    full_names = names if config.batch_size is None else []  # SGD: the full pass only records the loss
    m = inputs.shape[0]
    full_workspace = _Workspace(model, m)
    batch_workspace = None if config.batch_size is None else _Workspace(model, min(config.batch_size, m))
    wanted = set(config.checkpoints)
    checkpoints = {}
    losses = []
    hidden = None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.iterations, desc="gradient descent", unit="step", leave=False)
    try:
        for step in range(config.iterations + 1):
            loss, grads, full_hidden = _loss_gradients_hidden(model, inputs, targets, config.loss_form, full_names,
                                                              full_workspace, hidden if fixed_hidden else None)
            if fixed_hidden:
                hidden = full_hidden
            if not math.isfinite(loss) or (losses and loss > config.blowup_factor * max(losses[0], 1e-300)):
                raise TrainingDiverged(
                    f"gradient descent diverged at step {step} (loss {loss:.3g}, initial {losses[0] if losses else loss:.3g}) "
                    f"with learning rate lr={config.lr}; try a smaller lr"
                )
            losses.append(loss)
            if step in wanted:
                checkpoints[step] = model.clone()
            if observe is not None:
                observe(step, model, full_hidden)
            if step == config.iterations or (config.target_loss is not None and loss <= config.target_loss):
                break
            if config.batch_size is None:
                _apply(model, names, grads, step_size)
            else:
                for batch in epoch_batches(m, config.batch_size, config.shuffle_seed, config.start_epoch + step):
                    index = torch.as_tensor(batch, device=model.device)
                    rows = len(batch)
                    batch_inputs = torch.index_select(inputs, 0, index, out=batch_workspace.rows("inputs", rows))
                    batch_targets = torch.index_select(targets, 0, index, out=batch_workspace.rows("targets", rows))
                    batch_hidden = None
                    if fixed_hidden:
                        batch_hidden = torch.index_select(full_hidden, 0, index, out=batch_workspace.rows("hidden", rows))
                    _, batch_grads, _ = _loss_gradients_hidden(model, batch_inputs, batch_targets, config.loss_form,
                                                               names, batch_workspace, batch_hidden)
                    _apply(model, names, batch_grads, step_size)
            if bar is not None:
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.4g}")
    finally:
        if bar is not None:
            bar.close()
    return TrainResult(model=model, losses=np.asarray(losses, dtype=np.float64), checkpoints=checkpoints)


def _apply(model: TwoLayerNet, names: list[str], grads: dict, step_size: float) -> None:
    """One step: parameter -= step_size * gradient, scaling the gradient buffers in place."""
    with torch.no_grad(), _one_torch_thread():
        for name in names:
            getattr(model, name).sub_(grads[name].mul_(step_size))
